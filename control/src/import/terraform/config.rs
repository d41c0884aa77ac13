//! References through a plan's `configuration`: in a plan, an attribute that names
//! another resource being created (`vpc_id = aws_vpc.main.id`) is unknown until apply, but
//! the configuration keeps the expression's references (`"aws_vpc.main.id"`,
//! `"aws_vpc.main"`). [`Config::references`] turns them into resource instances of the
//! document, following `var.…` up to the module call's argument, `module.….out` down to
//! the child module's output, and `count.index` / `each.key` / `each.value` to the
//! instance with the same key.
//!
//! Configuration addresses are module-local (`aws_subnet.private` inside
//! `module_calls.net.module`); instance addresses are absolute
//! (`module.net.aws_subnet.private[1]`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::doc::{Doc, Res};

/// A resource instance that a reference names, and the attribute it reads, if it names one
/// (`default_security_group_id` of `aws_vpc.main.default_security_group_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The resource's index in [`Doc::resources`].
    pub(super) res: usize,
    /// The attribute read, if any.
    pub(super) attr: Option<String>,
}

/// One step of an address or reference: a name, or a key in brackets (kept as written:
/// `0`, `"a"`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// `name`.
    Name(String),
    /// `[key]`.
    Key(String),
}

/// Splits `module.net[0].aws_subnet.private["a"].id` into its steps.
fn segments(s: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !name.is_empty() {
                    out.push(Seg::Name(std::mem::take(&mut name)));
                }
            }
            '[' => {
                if !name.is_empty() {
                    out.push(Seg::Name(std::mem::take(&mut name)));
                }
                let mut key = String::new();
                let mut quoted = false;
                while let Some(k) = chars.next() {
                    match k {
                        '\\' if quoted => {
                            key.push(k);
                            if let Some(n) = chars.next() {
                                key.push(n);
                            }
                        }
                        '"' => {
                            quoted = !quoted;
                            key.push(k);
                        }
                        ']' if !quoted => break,
                        _ => key.push(k),
                    }
                }
                out.push(Seg::Key(key.trim().to_string()));
            }
            _ => name.push(c),
        }
    }
    if !name.is_empty() {
        out.push(Seg::Name(name));
    }
    out
}

/// The key of an instance index as a reference writes it: `0`, `"a"`.
pub(super) fn key_of(index: &Value) -> String {
    match index {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// The module calls of a module instance address, with their keys:
/// `module.a[0].module.b` → `[("a", Some("0")), ("b", None)]`.
fn module_calls(module: &str) -> Vec<(String, Option<String>)> {
    let segs = segments(module);
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        match (&segs[i], segs.get(i + 1)) {
            (Seg::Name(m), Some(Seg::Name(call))) if m == "module" => {
                let key = match segs.get(i + 2) {
                    Some(Seg::Key(k)) => {
                        i += 1;
                        Some(k.clone())
                    }
                    _ => None,
                };
                out.push((call.clone(), key));
                i += 2;
            }
            _ => i += 1,
        }
    }
    out
}

/// A module instance address from its calls.
fn render(calls: &[(String, Option<String>)]) -> String {
    calls
        .iter()
        .map(|(c, k)| match k {
            Some(k) => format!("module.{c}[{k}]"),
            None => format!("module.{c}"),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// References are followed through at most this many module boundaries.
const MAX_DEPTH: usize = 32;

/// Every `references` string under an expression (or block expressions) node, in order.
fn collect_refs<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(o) => {
            if let Some(Value::Array(refs)) = o.get("references") {
                out.extend(refs.iter().filter_map(Value::as_str));
            }
            for (k, v) in o {
                if k != "references" && k != "constant_value" {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The plan's `configuration`, for following references.
pub(super) struct Config<'a> {
    /// `configuration.root_module`.
    root: Option<&'a Value>,
}

/// What one block reference asks for.
struct Want {
    /// `type.name` or `data.type.name`.
    block: String,
    /// Instance keys written in the reference (`[0]`).
    keys: BTreeSet<String>,
    /// The attribute read, if not just `id`.
    attr: Option<String>,
    /// Pick the instance with the referrer's own key (`count.index`, `each.value`).
    same_key: bool,
}

impl<'a> Config<'a> {
    /// The configuration of `doc`, if it has one.
    pub(super) fn new(doc: &'a Doc) -> Config<'a> {
        Config {
            root: doc
                .configuration
                .as_ref()
                .and_then(|c| c.get("root_module")),
        }
    }

    /// The configuration of the module at `calls` (call names; keys ignored).
    fn module(&self, calls: &[(String, Option<String>)]) -> Option<&'a Value> {
        let mut m = self.root?;
        for (call, _) in calls {
            m = m.get("module_calls")?.get(call)?.get("module")?;
        }
        Some(m)
    }

    /// The configuration block of resource `block` in module instance `module`.
    fn resource(&self, module: &str, block: &str) -> Option<&'a Value> {
        let calls = module_calls(module);
        let m = self.module(&calls)?;
        let prefix: String = calls.iter().map(|(c, _)| format!("module.{c}.")).collect();
        m.get("resources")?.as_array()?.iter().find(|r| {
            r.get("address")
                .and_then(Value::as_str)
                .is_some_and(|a| a == block || a.strip_prefix(&prefix) == Some(block))
        })
    }

    /// Whether the configuration sets attribute `attr` of `r`: `Some(false)` for an
    /// attribute that is only computed (unknown until apply because the provider sets
    /// it), `None` when the plan has no configuration for `r`.
    pub(super) fn sets(&self, r: &Res, attr: &str) -> Option<bool> {
        let rc = self.resource(&r.module, &r.block())?;
        Some(rc.get("expressions").and_then(|e| e.get(attr)).is_some())
    }

    /// The resource instances that attribute `attr` of `r` refers to (through nested
    /// blocks too: `ingress` covers every `ingress` block's references). Empty when the
    /// plan has no configuration or the expression names no resource.
    pub(super) fn references(&self, doc: &Doc, r: &Res, attr: &str) -> Vec<Target> {
        let Some(rc) = self.resource(&r.module, &r.block()) else {
            return Vec::new();
        };
        let mut refs = Vec::new();
        if let Some(e) = rc.get("expressions").and_then(|e| e.get(attr)) {
            collect_refs(e, &mut refs);
        }
        let mut for_each = Vec::new();
        if let Some(e) = rc.get("for_each_expression") {
            collect_refs(e, &mut for_each);
        }
        let key = r.index.as_ref().map(key_of);
        self.resolve(doc, &r.module, &refs, key.as_deref(), &for_each, 0)
    }

    /// Resolves `refs`, written in module instance `module` by an object whose own key is
    /// `own_key` and whose `for_each` expression references `for_each`.
    fn resolve(
        &self,
        doc: &Doc,
        module: &str,
        refs: &[&str],
        own_key: Option<&str>,
        for_each: &[&str],
        depth: usize,
    ) -> Vec<Target> {
        if depth > MAX_DEPTH {
            return Vec::new();
        }
        let mut wants: Vec<Want> = Vec::new();
        let mut out: Vec<Target> = Vec::new();
        let by_key = refs
            .iter()
            .any(|r| *r == "count.index" || r.starts_with("each.key"));
        let add_want = |wants: &mut Vec<Want>,
                        block: String,
                        key: Option<String>,
                        attr: Option<String>,
                        same_key: bool| {
            let w = match wants.iter_mut().position(|w| w.block == block) {
                Some(i) => &mut wants[i],
                None => {
                    wants.push(Want {
                        block,
                        keys: BTreeSet::new(),
                        attr: None,
                        same_key: false,
                    });
                    let last = wants.len() - 1;
                    &mut wants[last]
                }
            };
            if let Some(k) = key {
                w.keys.insert(k);
            }
            if attr.is_some() && w.attr.is_none() {
                w.attr = attr;
            }
            w.same_key |= same_key;
        };
        for r in refs {
            let segs = segments(r);
            let name = |i: usize| match segs.get(i) {
                Some(Seg::Name(n)) => Some(n.as_str()),
                _ => None,
            };
            match name(0) {
                Some("var") => {
                    if let Some(v) = name(1) {
                        let ts = self.variable(doc, module, v, depth);
                        out.extend(pick_key(doc, ts, by_key, own_key));
                    }
                }
                Some("module") => {
                    let Some(call) = name(1) else { continue };
                    let (key, out_at) = match segs.get(2) {
                        Some(Seg::Key(k)) => (Some(k.clone()), 3),
                        _ => (None, 2),
                    };
                    if let Some(o) = name(out_at) {
                        let ts = self.output(doc, module, call, key.as_deref(), o, depth);
                        // `module.net.ids[1]`: the element with that key.
                        match segs.get(out_at + 1) {
                            Some(Seg::Key(k)) => out.extend(pick_key(doc, ts, true, Some(k))),
                            _ => out.extend(pick_key(doc, ts, by_key, own_key)),
                        }
                    }
                }
                Some("each") if name(1) == Some("value") => {
                    for f in for_each {
                        if let Some((block, _, _)) = block_ref(&segments(f)) {
                            add_want(&mut wants, block, None, None, true);
                        }
                    }
                }
                Some("count" | "each" | "local" | "path" | "terraform" | "self") | None => {}
                Some(_) => {
                    if let Some((block, key, attr)) = block_ref(&segs) {
                        add_want(&mut wants, block, key, attr, by_key);
                    }
                }
            }
        }
        for w in wants {
            let instances: Vec<usize> = doc
                .resources
                .iter()
                .enumerate()
                .filter(|(_, x)| x.module == module && x.block() == w.block)
                .map(|(i, _)| i)
                .collect();
            let key_is = |i: usize, k: &str| {
                doc.resources[i].index.as_ref().map(key_of).as_deref() == Some(k)
            };
            let chosen: Vec<usize> = if !w.keys.is_empty() {
                instances
                    .into_iter()
                    .filter(|&i| w.keys.iter().any(|k| key_is(i, k)))
                    .collect()
            } else if instances.len() > 1 && w.same_key {
                match own_key {
                    Some(k) if instances.iter().any(|&i| key_is(i, k)) => {
                        instances.into_iter().filter(|&i| key_is(i, k)).collect()
                    }
                    _ => instances,
                }
            } else {
                instances
            };
            out.extend(chosen.into_iter().map(|res| Target {
                res,
                attr: w.attr.clone(),
            }));
        }
        let mut seen = Vec::new();
        out.retain(|t| {
            if seen.contains(t) {
                false
            } else {
                seen.push(t.clone());
                true
            }
        });
        out
    }

    /// `var.v` inside module instance `module`: the argument of its module call, resolved
    /// in the parent module.
    fn variable(&self, doc: &Doc, module: &str, v: &str, depth: usize) -> Vec<Target> {
        let calls = module_calls(module);
        let Some(((call, key), parent)) = calls.split_last() else {
            return Vec::new(); // a root variable: an input, not a resource
        };
        let Some(mc) = self
            .module(parent)
            .and_then(|m| m.get("module_calls"))
            .and_then(|m| m.get(call))
        else {
            return Vec::new();
        };
        let mut refs = Vec::new();
        if let Some(e) = mc.get("expressions").and_then(|e| e.get(v)) {
            collect_refs(e, &mut refs);
        }
        let mut for_each = Vec::new();
        if let Some(e) = mc.get("for_each_expression") {
            collect_refs(e, &mut for_each);
        }
        self.resolve(
            doc,
            &render(parent),
            &refs,
            key.as_deref(),
            &for_each,
            depth + 1,
        )
    }

    /// `module.call[key].o` from module instance `module`: the child's output `o`,
    /// resolved in each matching child instance.
    fn output(
        &self,
        doc: &Doc,
        module: &str,
        call: &str,
        key: Option<&str>,
        o: &str,
        depth: usize,
    ) -> Vec<Target> {
        let here = module_calls(module);
        let mut instances: Vec<String> = Vec::new();
        for r in &doc.resources {
            let calls = module_calls(&r.module);
            if calls.len() > here.len()
                && calls[..here.len()] == here[..]
                && calls[here.len()].0 == call
                && key.is_none_or(|k| calls[here.len()].1.as_deref() == Some(k))
            {
                let inst = render(&calls[..=here.len()]);
                if !instances.contains(&inst) {
                    instances.push(inst);
                }
            }
        }
        let mut child = here.clone();
        child.push((call.to_string(), None));
        let Some(expr) = self
            .module(&child)
            .and_then(|m| m.get("outputs"))
            .and_then(|outs| outs.get(o))
            .and_then(|out| out.get("expression"))
        else {
            return Vec::new();
        };
        let mut refs = Vec::new();
        collect_refs(expr, &mut refs);
        instances
            .iter()
            .flat_map(|inst| self.resolve(doc, inst, &refs, None, &[], depth + 1))
            .collect()
    }
}

/// A list indexed by the referrer's own key (`module.net.subnet_ids[count.index]`): of
/// several targets, those with that key, if any.
fn pick_key(doc: &Doc, ts: Vec<Target>, by_key: bool, own_key: Option<&str>) -> Vec<Target> {
    match own_key {
        Some(k) if by_key && ts.len() > 1 => {
            let same: Vec<Target> = ts
                .iter()
                .filter(|t| doc.resources[t.res].index.as_ref().map(key_of).as_deref() == Some(k))
                .cloned()
                .collect();
            if same.is_empty() {
                ts
            } else {
                same
            }
        }
        _ => ts,
    }
}

/// A reference to a resource block: `(block, key, attribute)` of
/// `aws_subnet.private[0].id` or `data.aws_vpc.main.cidr_block`.
fn block_ref(segs: &[Seg]) -> Option<(String, Option<String>, Option<String>)> {
    let name = |i: usize| match segs.get(i) {
        Some(Seg::Name(n)) => Some(n.as_str()),
        _ => None,
    };
    let (block, next) = if name(0) == Some("data") {
        (format!("data.{}.{}", name(1)?, name(2)?), 3)
    } else {
        (format!("{}.{}", name(0)?, name(1)?), 2)
    };
    let (key, next) = match segs.get(next) {
        Some(Seg::Key(k)) => (Some(k.clone()), next + 1),
        _ => (None, next),
    };
    let attr = name(next).map(str::to_string);
    Some((block, key, attr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_names_and_keys() {
        assert_eq!(
            segments(r#"module.net[0].aws_subnet.private["a.b"].id"#),
            vec![
                Seg::Name("module".into()),
                Seg::Name("net".into()),
                Seg::Key("0".into()),
                Seg::Name("aws_subnet".into()),
                Seg::Name("private".into()),
                Seg::Key("\"a.b\"".into()),
                Seg::Name("id".into()),
            ]
        );
        assert_eq!(
            module_calls(r#"module.a[0].module.b["x"]"#),
            vec![
                ("a".into(), Some("0".into())),
                ("b".into(), Some("\"x\"".into()))
            ]
        );
        assert_eq!(
            render(&module_calls("module.a[0].module.b")),
            "module.a[0].module.b"
        );
        assert_eq!(key_of(&Value::from(1)), "1");
        assert_eq!(key_of(&Value::from("a")), "\"a\"");
        assert_eq!(
            block_ref(&segments("data.aws_vpc.main.cidr_block")),
            Some(("data.aws_vpc.main".into(), None, Some("cidr_block".into())))
        );
    }
}
