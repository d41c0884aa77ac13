//! Parsing: syntax errors, unknown fields and kinds, bad values, error display, every error of the file at once.

use super::*;

#[test]
fn base_is_valid() {
    let (t, w) = ok("");
    assert_eq!(t.vpcs.len(), 1);
    assert!(w.is_empty());
}

#[test]
fn syntax_error_is_one_file_error_with_position() {
    let e = check("[[vpc]\nid = 1").unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e.0[0].resource, "file");
    assert!(e.0[0].message.starts_with("line 1, column"), "{}", e.0[0]);
}

#[test]
fn unknown_fields_and_kinds_are_errors() {
    expect(
        "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-a\"\nprivate_ip = \"10.0.1.10\"\nsrc_dst_check = false\n",
        "eni-a.src_dst_check:",
        "unknown field",
    );
    expect(
        "[[vpcs]]\nid = \"vpc-x\"\n",
        "file.vpcs:",
        "unknown resource kind",
    );
}

#[test]
fn bad_values_name_resource_and_field() {
    expect(
        "[[route_table]]\nid = \"rtb-a\"\nvpc = \"vpc-demo\"\nroutes = [{ destination = \"10.0.0.0/16\", target = \"local\" }, { destination = \"nope\", target = \"blackhole\" }]\n",
        "rtb-a.routes[1].destination:",
        "invalid",
    );
    expect(&eni("eni-a", "10.0.1.300"), "eni-a.private_ip:", "line ");
}

#[test]
fn every_error_of_the_file_is_reported() {
    let src = format!(
        "{BASE}\n{}\n{}\n[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.0.0.0/8\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.0.0.0/29\"\nbogus = 1\n",
        eni("eni-a", "10.0.1.1"),
        eni("eni-b", "10.0.1.255"),
    );
    let e = check(&src).unwrap_err();
    let text = e.to_string();
    assert_eq!(text.lines().count(), e.len());
    for needle in [
        "eni-a.private_ip",
        "eni-b.private_ip",
        "vpc-b.cidr",
        "subnet-b.bogus",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[test]
fn display_formats() {
    let e = ValidationError::new("subnet-a", "cidr", "bad");
    assert_eq!(e.to_string(), "subnet-a.cidr: bad");
    assert_eq!(ValidationError::new("file", "", "x").to_string(), "file: x");
    let all = ValidationErrors(vec![e.clone(), e]);
    assert_eq!(all.to_string(), "subnet-a.cidr: bad\nsubnet-a.cidr: bad");
}

#[test]
fn missing_id_is_named_by_kind_and_file_index() {
    let errs = check_str(
        "[[vpc]]\nid = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\n[[vpc]]\nid = \"vpc-b\"\ncidr = \"x\"\n[[vpc]]\ncidr = \"10.1.0.0/16\"\n",
    )
    .unwrap_err();
    assert!(
        errs.iter().any(|e| e.starts_with("vpc[2].id: missing id")),
        "{errs:?}"
    );
}

#[test]
fn references_to_unparseable_resources_are_not_dangling() {
    let src = format!(
        "{BASE}\n[[eni]]\nid = \"eni-fw\"\nsubnet = \"subnet-a\"\nprivate_ip = \"bad\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"eni-fw\" }}]\n"
    );
    let e = check_str(&src).unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("eni-fw.private_ip:"));
}
