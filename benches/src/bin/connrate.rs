//! New-connection rate over TCP, for the benchmark suite and the NAT bench script: `serve ADDR` accepts and
//! closes connections (one byte each, so the client sees a complete exchange);
//! `client ADDR COUNT THREADS` opens COUNT connections (connect, read to EOF, close)
//! from THREADS threads and prints the rate. Both sides run in namespaces the script
//! created; the client talks only to the address it is given.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn serve(addr: &str) -> Result<(), String> {
    let l = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    println!("ready {addr}");
    for s in l.incoming() {
        match s {
            Ok(mut s) => {
                let _ = s.write_all(b"x");
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    Ok(())
}

fn client(addr: &str, count: u64, threads: u64) -> Result<(), String> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (next, failed) = (next.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8];
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    let ok = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                        .and_then(|mut s| {
                            s.set_read_timeout(Some(Duration::from_secs(2)))?;
                            let mut n = 0;
                            loop {
                                match s.read(&mut buf)? {
                                    0 => break,
                                    k => n += k,
                                }
                            }
                            Ok(n == 1)
                        })
                        .unwrap_or(false);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "client thread panicked".to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "{:.0} conn/s ({count} connections in {secs:.2} s, {failed} failed)",
        (count - failed.min(count)) as f64 / secs
    );
    if failed > 0 {
        return Err(format!("{failed} connections failed"));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", addr] => serve(addr),
        ["client", addr, count, threads] => match (count.parse(), threads.parse()) {
            (Ok(c), Ok(t)) if t > 0 => client(addr, c, t),
            _ => Err("COUNT and THREADS must be positive integers".into()),
        },
        _ => {
            Err("usage: connrate serve ADDR:PORT | connrate client ADDR:PORT COUNT THREADS".into())
        }
    };
    if let Err(e) = r {
        eprintln!("connrate: {e}");
        std::process::exit(1);
    }
}
