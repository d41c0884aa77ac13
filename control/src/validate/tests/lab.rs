//! `[lab]`: conntrack time scale, NAT gateway ports and idle timeout.

use super::*;

#[test]
fn lab_time_scale_is_in_0_to_1() {
    for (scale, good) in [
        ("0.0", false),
        ("-0.5", false),
        ("1.5", false),
        ("nan", false),
        ("0.01", true),
        ("1", true),
    ] {
        let src = format!("[lab]\nconntrack_time_scale = {scale}\n");
        if good {
            ok(&src);
        } else {
            expect(
                &src,
                "lab.conntrack_time_scale:",
                "greater than 0 and at most 1",
            );
        }
    }
    expect("[lab]\nscale = 0.5\n", "lab.scale:", "unknown field");
    expect(
        "[[lab]]\nconntrack_time_scale = 0.5\n",
        "file.lab:",
        "single table",
    );
}

#[test]
fn lab_nat_gateway_ports_are_an_ordered_range_within_1024_to_65535() {
    for (ports, error) in [
        ("[1024, 65535]", None),
        ("[2000, 2000]", None),
        ("[1023, 2000]", Some("must be within 1024..=65535")),
        ("[2000, 65536]", Some("must be within 1024..=65535")),
        ("[3000, 2000]", Some("from the lower port to the higher")),
    ] {
        let src = format!("[lab]\nnat_gateway_ports = {ports}\n");
        match error {
            None => {
                ok(&src);
            }
            Some(needle) => expect(&src, "lab.nat_gateway_ports:", needle),
        }
    }
    expect(
        "[lab]\nnat_gateway_ports = [2000]\n",
        "lab.nat_gateway_ports:",
        "",
    );
}

#[test]
fn lab_nat_gateway_idle_timeout_is_positive() {
    for (secs, good) in [
        ("0.0", false),
        ("-1", false),
        ("nan", false),
        ("inf", false),
        ("0.5", true),
        ("350", true),
    ] {
        let src = format!("[lab]\nnat_gateway_idle_timeout = {secs}\n");
        if good {
            ok(&src);
        } else {
            expect(&src, "lab.nat_gateway_idle_timeout:", "greater than 0");
        }
    }
}
