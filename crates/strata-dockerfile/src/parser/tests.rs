//! Parser unit tests for what the upstream fixtures do not cover.

use super::*;

fn p(s: &str) -> Ast {
    parse_str(s).unwrap()
}

fn err(s: &str) -> Error {
    parse_str(s).unwrap_err()
}

#[test]
fn heredoc_bodies_are_attached_and_skipped() {
    let ast = p("FROM a\nRUN <<EOF\necho hi\n  EOF\nEOF\nCMD x\n");
    assert_eq!(ast.dump(), "(from \"a\")\n(run \"<<EOF\")\n(cmd \"x\")\n");
    let run = &ast.nodes[1];
    assert_eq!(run.range, LineRange::new(2, 5));
    assert_eq!(run.heredocs.len(), 1);
    assert_eq!(run.heredocs[0].content, "echo hi\n  EOF\n");
    assert!(run.heredocs[0].expand);
}

#[test]
fn several_heredocs_on_one_line() {
    let ast = p("FROM a\nCOPY <<A <<-'B' /dst/\na\n\tb\n\tB\nA2\nA\n\tb2\n\tB\n");
    let n = &ast.nodes[1];
    // Bodies are read in order: first A (up to the line `A`), then B.
    assert_eq!(n.heredocs[0].name, "A");
    assert_eq!(n.heredocs[0].content, "a\n\tb\n\tB\nA2\n");
    assert_eq!(n.heredocs[1].name, "B");
    assert!(!n.heredocs[1].expand && n.heredocs[1].chomp);
    assert_eq!(n.heredocs[1].content, "\tb2\n");
    assert_eq!(n.heredocs[1].data(), "b2\n");
    assert_eq!(n.range, LineRange::new(2, 9));
}

#[test]
fn heredocs_only_for_run_copy_add_and_not_json() {
    let ast = p("FROM a\nCMD cat <<EOF\nRUN [\"cat\", \"<<EOF\"]\nENV a=<<EOF\n");
    assert_eq!(ast.nodes.len(), 4);
    assert!(ast.nodes.iter().all(|n| n.heredocs.is_empty()));
    let ast = p("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n");
    assert_eq!(ast.nodes[1].heredocs.len(), 1);
    assert_eq!(ast.nodes[1].range, LineRange::new(2, 4));
}

#[test]
fn unterminated_heredoc() {
    let e = err("FROM a\nRUN <<EOF\nx\n");
    assert_eq!(e.to_string(), "Dockerfile:2: unterminated heredoc");
    assert_eq!(e.range(), LineRange::new(2, 3));
}

#[test]
fn heredoc_with_crlf_and_backtick_escape() {
    let ast = p("# escape=`\r\nFROM a\r\nRUN cat <<EOF > /x `\r\n  && true\r\nline\r\nEOF\r\n");
    let n = &ast.nodes[1];
    assert_eq!(n.args, ["cat <<EOF > /x   && true"]);
    assert_eq!(n.heredocs[0].content, "line\r\n");
    assert_eq!(ast.escape, '`');
}

#[test]
fn directives_only_at_the_top() {
    let ast = p("# syntax=docker/dockerfile:1\n#check=skip=all\n# escape=`\nFROM a\n# escape=\\\n");
    assert_eq!(
        ast.directives.syntax.as_ref().unwrap().value,
        "docker/dockerfile:1"
    );
    assert_eq!(ast.directives.check.as_ref().unwrap().line, 2);
    assert_eq!(ast.escape, '`');
    let ast = p("# hello\n# escape=`\nFROM a\n");
    assert_eq!(ast.escape, '\\');
    let ast = p("\n# escape=`\nFROM a\n");
    assert_eq!(ast.escape, '\\');
    assert_eq!(
        err("# escape=x\nFROM a").to_string(),
        "Dockerfile:1: invalid escape token 'x' does not match ` or \\"
    );
    assert_eq!(
        err("# syntax=a\n# syntax=b\nFROM a").to_string(),
        "Dockerfile:2: only one syntax parser directive can be used"
    );
}

#[test]
fn empty_continuation_warns() {
    let ast = p("FROM a\nRUN a \\\n\n  b\n");
    assert_eq!(ast.warnings.len(), 1);
    assert_eq!(ast.warnings[0].rule, "NoEmptyContinuation");
    assert_eq!(
        ast.warnings[0].message,
        "Empty continuation line found in: RUN a   b"
    );
    assert_eq!(ast.warnings[0].range, LineRange::line(4));
}

#[test]
fn line_limit() {
    let long = format!("FROM a\nRUN {}\n", "x".repeat(MAX_LINE_LEN));
    let e = err(&long);
    assert_eq!(
        e.to_string(),
        "Dockerfile:2: dockerfile line greater than max allowed size of 65535"
    );
    let ok = format!("FROM a\nRUN {}\n", "x".repeat(MAX_LINE_LEN - 4));
    assert_eq!(p(&ok).nodes.len(), 2);
}

#[test]
fn unknown_and_mixed_case_keywords() {
    let ast = p("From a\nfoo bar\nOnBuild Run x\n");
    assert_eq!(
        ast.dump(),
        "(from \"a\")\n(foo \"\")\n(onbuild (run \"x\"))\n"
    );
    assert_eq!(ast.nodes[1].keyword, "foo");
}

#[test]
fn onbuild_recursion_is_bounded() {
    let line = format!("{}RUN x", "ONBUILD ".repeat(1000));
    assert_eq!(err(&line).message(), ParseError::TooDeep.to_string());
    let ok = format!("{}RUN x", "ONBUILD ".repeat(3));
    assert_eq!(p(&ok).dump(), "(onbuild (onbuild (onbuild (run \"x\"))))\n");
}

#[test]
fn bom_and_invalid_utf8() {
    let ast = parse(b"\xEF\xBB\xBFFROM a\nRUN \xff\n").unwrap();
    assert_eq!(ast.dump(), "(from \"a\")\n(run \"\u{FFFD}\")\n");
}

#[test]
fn errors_carry_ranges() {
    let e = err("FROM a\nENV a=b \\\n  c\n");
    assert_eq!(e.range(), LineRange::new(2, 3));
    assert_eq!(
        e.to_string(),
        "Dockerfile:2: Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
    assert_eq!(err("").message(), "file with no instructions");
    assert_eq!(err("# only\n\n").range(), LineRange::line(2));
}
