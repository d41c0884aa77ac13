//! The document: `terraform show -json` parsed, its resource instances collected from
//! `planned_values` (a plan) or `values` (a state), module by module, each with the
//! `after_unknown` of its `resource_changes` entry; and typed access to their attributes
//! ([`Obj`]), where every wrong type is an [`ImportError`] naming the resource and field.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{Map, Value};

use super::super::ImportError;

/// Whether a resource is managed (`resource`) or read (`data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A `resource` block.
    Managed,
    /// A `data` block.
    Data,
}

/// One resource instance of the document.
#[derive(Debug)]
pub(super) struct Res {
    /// Its absolute address (`module.net.aws_subnet.private[1]`).
    pub(super) address: String,
    /// The address of its module instance (`module.net`, `module.net[0]`), `""` at the root.
    pub(super) module: String,
    /// Managed or data.
    pub(super) mode: Mode,
    /// The resource type (`aws_subnet`).
    pub(super) rtype: String,
    /// The resource name (`private`).
    pub(super) name: String,
    /// The `count`/`for_each` key, when there is one.
    pub(super) index: Option<Value>,
    /// Its attribute values (unknown ones are null or absent).
    pub(super) values: Map<String, Value>,
    /// Its `after_unknown` (a plan) or `null`.
    pub(super) unknown: Value,
}

impl Res {
    /// The attributes, for typed access.
    pub(super) fn obj<'a>(&'a self, file: &'a str) -> Obj<'a> {
        Obj {
            file,
            res: &self.address,
            path: String::new(),
            values: &self.values,
            unknown: &self.unknown,
        }
    }

    /// `type.name` (`data.type.name` for data sources): the block's module-local address.
    pub(super) fn block(&self) -> String {
        match self.mode {
            Mode::Managed => format!("{}.{}", self.rtype, self.name),
            Mode::Data => format!("data.{}.{}", self.rtype, self.name),
        }
    }
}

/// The parsed document.
#[derive(Debug)]
pub(super) struct Doc {
    /// A plan (`planned_values`) rather than a state (`values`).
    pub(super) plan: bool,
    /// Every resource instance, in document order (modules depth first).
    pub(super) resources: Vec<Res>,
    /// The plan's `configuration`, if any.
    pub(super) configuration: Option<Value>,
    /// Addresses that the plan deletes (and that are therefore not in `planned_values`).
    pub(super) deleted: Vec<String>,
    /// Resource index by address.
    pub(super) by_address: HashMap<String, usize>,
}

/// The JSON type of a value, for messages.
pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects the resources of `json` (already known to look like Terraform).
pub(super) fn collect(file: &str, json: &Value) -> Result<Doc, Vec<ImportError>> {
    let plan = json.get("planned_values").is_some();
    let top = if plan { "planned_values" } else { "values" };
    let mut errors = Vec::new();
    let mut unknowns: HashMap<String, Value> = HashMap::new();
    let mut deleted = Vec::new();
    match json.get("resource_changes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(changes)) => {
            for (i, c) in changes.iter().enumerate() {
                let Some(address) = c.get("address").and_then(Value::as_str) else {
                    errors.push(ImportError::new(
                        file,
                        format!("resource_changes[{i}]"),
                        "address",
                        "expected a string",
                    ));
                    continue;
                };
                if c.get("deposed").is_some() {
                    continue;
                }
                let change = c.get("change");
                let actions: Vec<&str> = change
                    .and_then(|ch| ch.get("actions"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if actions == ["delete"] {
                    deleted.push(address.to_string());
                }
                if let Some(u) = change.and_then(|ch| ch.get("after_unknown")) {
                    unknowns.insert(address.to_string(), u.clone());
                }
            }
        }
        Some(other) => errors.push(ImportError::new(
            file,
            "file",
            "resource_changes",
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
    let mut resources = Vec::new();
    match json.get(top) {
        None | Some(Value::Null) => {}
        Some(Value::Object(v)) => match v.get("root_module") {
            None | Some(Value::Null) => {}
            Some(m @ Value::Object(_)) => walk(
                file,
                &format!("{top}.root_module"),
                "",
                m,
                &mut unknowns,
                &mut resources,
                &mut errors,
                0,
            ),
            Some(other) => errors.push(ImportError::new(
                file,
                top,
                "root_module",
                format!("expected an object, found {}", kind_of(other)),
            )),
        },
        Some(other) => errors.push(ImportError::new(
            file,
            "file",
            top,
            format!("expected an object, found {}", kind_of(other)),
        )),
    }
    let configuration = json.get("configuration").filter(|c| c.is_object()).cloned();
    if !errors.is_empty() {
        return Err(errors);
    }
    let by_address = resources
        .iter()
        .enumerate()
        .map(|(i, r): (usize, &Res)| (r.address.clone(), i))
        .collect();
    Ok(Doc {
        plan,
        resources,
        configuration,
        deleted,
        by_address,
    })
}

/// Modules nest at most this deep (a guard against malformed input).
const MAX_MODULE_DEPTH: usize = 64;

/// Collects the resources of one module object and, recursively, of its children.
#[allow(clippy::too_many_arguments)]
fn walk(
    file: &str,
    where_: &str,
    module: &str,
    m: &Value,
    unknowns: &mut HashMap<String, Value>,
    out: &mut Vec<Res>,
    errors: &mut Vec<ImportError>,
    depth: usize,
) {
    if depth > MAX_MODULE_DEPTH {
        errors.push(ImportError::new(
            file,
            where_,
            "child_modules",
            format!("modules nest deeper than {MAX_MODULE_DEPTH}"),
        ));
        return;
    }
    match m.get("resources") {
        None | Some(Value::Null) => {}
        Some(Value::Array(rs)) => {
            for (i, r) in rs.iter().enumerate() {
                match resource(
                    file,
                    &format!("{where_}.resources[{i}]"),
                    module,
                    r,
                    unknowns,
                ) {
                    Ok(res) => out.push(res),
                    Err(e) => errors.push(e),
                }
            }
        }
        Some(other) => errors.push(ImportError::new(
            file,
            where_,
            "resources",
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
    match m.get("child_modules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cs)) => {
            for (i, c) in cs.iter().enumerate() {
                let here = format!("{where_}.child_modules[{i}]");
                match c.get("address").and_then(Value::as_str) {
                    Some(addr) if c.is_object() => {
                        walk(file, &here, addr, c, unknowns, out, errors, depth + 1)
                    }
                    _ => errors.push(ImportError::new(
                        file,
                        here,
                        "address",
                        "expected a module object with a string address",
                    )),
                }
            }
        }
        Some(other) => errors.push(ImportError::new(
            file,
            where_,
            "child_modules",
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
}

/// One resource object of a values representation.
fn resource(
    file: &str,
    where_: &str,
    module: &str,
    r: &Value,
    unknowns: &mut HashMap<String, Value>,
) -> Result<Res, ImportError> {
    let text = |k: &str| -> Result<String, ImportError> {
        match r.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(other) => Err(ImportError::new(
                file,
                r.get("address").and_then(Value::as_str).unwrap_or(where_),
                k,
                format!("expected a non-empty string, found {}", kind_of(other)),
            )),
            None => Err(ImportError::new(
                file,
                r.get("address").and_then(Value::as_str).unwrap_or(where_),
                k,
                "missing",
            )),
        }
    };
    let address = text("address")?;
    let rtype = text("type")?;
    let name = text("name")?;
    let mode = match r.get("mode").and_then(Value::as_str) {
        Some("data") => Mode::Data,
        _ if address.starts_with("data.") || address.contains(".data.") => Mode::Data,
        _ => Mode::Managed,
    };
    let values = match r.get("values") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => v.clone(),
        Some(other) => {
            return Err(ImportError::new(
                file,
                &address,
                "values",
                format!("expected an object, found {}", kind_of(other)),
            ))
        }
    };
    let unknown = unknowns.remove(&address).unwrap_or(Value::Null);
    Ok(Res {
        module: module.to_string(),
        mode,
        rtype,
        name,
        index: r.get("index").filter(|v| !v.is_null()).cloned(),
        values,
        unknown,
        address,
    })
}

/// An attribute's value: absent (null, missing or `""`), unknown until apply, or known.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val<T> {
    /// Not set.
    Absent,
    /// Known only after apply.
    Unknown,
    /// Known.
    Known(T),
}

impl<T> Val<T> {
    /// The known value, if any.
    pub(super) fn known(self) -> Option<T> {
        match self {
            Val::Known(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the value is unknown until apply.
    pub(super) fn is_unknown(&self) -> bool {
        matches!(self, Val::Unknown)
    }
}

/// An object of attributes (a resource's, or a nested block's) with its `after_unknown`
/// counterpart, the resource's address and the path of the block for error messages.
#[derive(Debug, Clone)]
pub(super) struct Obj<'a> {
    /// The input file.
    pub(super) file: &'a str,
    /// The resource's address.
    pub(super) res: &'a str,
    /// The path of this block inside the resource (`ingress[2]`), `""` for the resource.
    pub(super) path: String,
    /// The values.
    pub(super) values: &'a Map<String, Value>,
    /// The matching `after_unknown` (`true` leaves), or null.
    pub(super) unknown: &'a Value,
}

/// `true` when `u` (an `after_unknown` node) says "unknown".
fn is_true(u: Option<&Value>) -> bool {
    matches!(u, Some(Value::Bool(true)))
}

impl<'a> Obj<'a> {
    /// The field path of `k` (`ingress[2].from_port`).
    pub(super) fn field(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    /// An error about field `k`.
    pub(super) fn err(&self, k: &str, message: impl Into<String>) -> ImportError {
        ImportError::new(self.file, self.res, self.field(k), message)
    }

    /// The raw value of `k`.
    pub(super) fn raw(&self, k: &str) -> Val<&'a Value> {
        match self.values.get(k) {
            None | Some(Value::Null) => {
                if is_true(self.unknown.get(k)) {
                    Val::Unknown
                } else {
                    Val::Absent
                }
            }
            Some(v) => Val::Known(v),
        }
    }

    /// A string attribute (`""` is absent).
    pub(super) fn str(&self, k: &str) -> Result<Val<&'a str>, ImportError> {
        match self.raw(k) {
            Val::Known(Value::String(s)) if s.is_empty() => Ok(Val::Absent),
            Val::Known(Value::String(s)) => Ok(Val::Known(s.as_str())),
            Val::Known(other) => {
                Err(self.err(k, format!("expected a string, found {}", kind_of(other))))
            }
            Val::Absent => Ok(Val::Absent),
            Val::Unknown => Ok(Val::Unknown),
        }
    }

    /// A boolean attribute.
    pub(super) fn bool(&self, k: &str) -> Result<Val<bool>, ImportError> {
        match self.raw(k) {
            Val::Known(Value::Bool(b)) => Ok(Val::Known(*b)),
            Val::Known(Value::String(s)) if s == "true" || s == "false" => {
                Ok(Val::Known(s == "true"))
            }
            Val::Known(other) => {
                Err(self.err(k, format!("expected a boolean, found {}", kind_of(other))))
            }
            Val::Absent => Ok(Val::Absent),
            Val::Unknown => Ok(Val::Unknown),
        }
    }

    /// An integer attribute (a JSON number, or a string of one).
    pub(super) fn int(&self, k: &str) -> Result<Val<i64>, ImportError> {
        match self.raw(k) {
            Val::Known(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Val::Known(i)),
                None => Err(self.err(k, format!("expected an integer, found {n}"))),
            },
            Val::Known(Value::String(s)) if s.is_empty() => Ok(Val::Absent),
            Val::Known(Value::String(s)) => {
                s.trim().parse::<i64>().map(Val::Known).map_err(|_| {
                    self.err(k, format!("expected an integer, found the string `{s}`"))
                })
            }
            Val::Known(other) => {
                Err(self.err(k, format!("expected an integer, found {}", kind_of(other))))
            }
            Val::Absent => Ok(Val::Absent),
            Val::Unknown => Ok(Val::Unknown),
        }
    }

    /// A string attribute parsed by `parse`; `what` names the expected form.
    fn parsed<T>(
        &self,
        k: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Val<T>, ImportError> {
        match self.str(k)? {
            Val::Known(s) => parse(s.trim())
                .map(Val::Known)
                .ok_or_else(|| self.err(k, format!("`{s}` is not {what}"))),
            Val::Absent => Ok(Val::Absent),
            Val::Unknown => Ok(Val::Unknown),
        }
    }

    /// An IPv4 CIDR attribute.
    pub(super) fn cidr4(&self, k: &str) -> Result<Val<Ipv4Net>, ImportError> {
        self.parsed(k, "an IPv4 CIDR", |s| s.parse().ok())
    }

    /// An IPv6 CIDR attribute.
    pub(super) fn cidr6(&self, k: &str) -> Result<Val<Ipv6Net>, ImportError> {
        self.parsed(k, "an IPv6 CIDR", |s| s.parse().ok())
    }

    /// An IPv4 address attribute.
    pub(super) fn ip4(&self, k: &str) -> Result<Val<Ipv4Addr>, ImportError> {
        self.parsed(k, "an IPv4 address", |s| s.parse().ok())
    }

    /// The elements of a list or set attribute (each absent, unknown or known).
    pub(super) fn list(&self, k: &str) -> Result<Val<Vec<Val<&'a Value>>>, ImportError> {
        match self.raw(k) {
            Val::Known(Value::Array(a)) => {
                let u = self.unknown.get(k);
                Ok(Val::Known(
                    a.iter()
                        .enumerate()
                        .map(|(i, v)| match v {
                            Value::Null if is_true(u.and_then(|u| u.get(i))) => Val::Unknown,
                            Value::Null => Val::Absent,
                            v => Val::Known(v),
                        })
                        .collect(),
                ))
            }
            Val::Known(other) => {
                Err(self.err(k, format!("expected a list, found {}", kind_of(other))))
            }
            Val::Absent => Ok(Val::Absent),
            Val::Unknown => Ok(Val::Unknown),
        }
    }

    /// A list or set of strings; `""` elements are left out.
    pub(super) fn strs(&self, k: &str) -> Result<Val<Vec<Val<&'a str>>>, ImportError> {
        let items = match self.list(k)? {
            Val::Known(items) => items,
            Val::Absent => return Ok(Val::Absent),
            Val::Unknown => return Ok(Val::Unknown),
        };
        let mut out = Vec::new();
        for (i, v) in items.into_iter().enumerate() {
            match v {
                Val::Known(Value::String(s)) if s.is_empty() => {}
                Val::Known(Value::String(s)) => out.push(Val::Known(s.as_str())),
                Val::Known(other) => {
                    return Err(self.err(
                        &format!("{k}[{i}]"),
                        format!("expected a string, found {}", kind_of(other)),
                    ))
                }
                Val::Unknown => out.push(Val::Unknown),
                Val::Absent => {}
            }
        }
        Ok(Val::Known(out))
    }

    /// A list or set of nested blocks (objects).
    pub(super) fn blocks(&self, k: &str) -> Result<Val<Vec<Obj<'a>>>, ImportError> {
        let a = match self.raw(k) {
            Val::Known(Value::Array(a)) => a,
            Val::Known(Value::Object(_)) => {
                return Err(self.err(k, "expected a list of blocks, found an object"))
            }
            Val::Known(other) => {
                return Err(self.err(
                    k,
                    format!("expected a list of blocks, found {}", kind_of(other)),
                ))
            }
            Val::Absent => return Ok(Val::Absent),
            Val::Unknown => return Ok(Val::Unknown),
        };
        let u = self.unknown.get(k);
        let mut out = Vec::new();
        for (i, v) in a.iter().enumerate() {
            match v {
                Value::Object(values) => out.push(Obj {
                    file: self.file,
                    res: self.res,
                    path: self.field(&format!("{k}[{i}]")),
                    values,
                    unknown: u.and_then(|u| u.get(i)).unwrap_or(&Value::Null),
                }),
                Value::Null => {}
                other => {
                    return Err(self.err(
                        &format!("{k}[{i}]"),
                        format!("expected a block (an object), found {}", kind_of(other)),
                    ))
                }
            }
        }
        Ok(Val::Known(out))
    }

    /// The `Name` tag (`tags`, else `tags_all`).
    pub(super) fn name_tag(&self) -> Result<Option<String>, ImportError> {
        for k in ["tags", "tags_all"] {
            match self.values.get(k) {
                None | Some(Value::Null) => {}
                Some(Value::Object(tags)) => match tags.get("Name") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) if s.is_empty() => {}
                    Some(Value::String(s)) => return Ok(Some(s.clone())),
                    Some(other) => {
                        return Err(self.err(
                            &format!("{k}.Name"),
                            format!("expected a string, found {}", kind_of(other)),
                        ))
                    }
                },
                Some(other) => {
                    return Err(self.err(k, format!("expected a map, found {}", kind_of(other))))
                }
            }
        }
        Ok(None)
    }
}

/// Parses an IPv6 address (for `ipv6_addresses`).
pub(super) fn parse_ip6(s: &str) -> Option<Ipv6Addr> {
    s.trim().parse().ok()
}

/// Parses an IPv4 or IPv6 CIDR.
pub(super) fn parse_cidr(s: &str) -> Option<IpNet> {
    s.trim().parse().ok()
}
