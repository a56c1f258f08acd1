//! Conditions that values cannot rewrite (issue 12): `examples/guarded_branch.rs` compares
//! hostile run-time values (quotes of both kinds, `||`, `&&`, `==`, `{{`, newlines,
//! backslashes, numbers as text, empty text, unicode) in every kind of comparison. Its
//! compiled YAML runs in the Argo simulator (expression tags evaluated with the values as
//! variables, then govaluate, as Argo does) and in the local runner; both must run exactly the
//! branches that the values' typed meaning selects.
//!
//! The simulator is shown to be faithful where it matters: the encoding used before (a quoted
//! `when` with the value spliced in as text) is rewritten by a crafted value in it.
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use kfp_sdk::argo::model::Workflow;
use kfp_sdk::local::{RunRecord, Store, TaskStatus};
use support::argo_sim::{Simulator, evaluate_when, substitute};

/// The example's literal (examples/guarded_branch.rs, `ODD_LITERAL`).
const ODD_LITERAL: &str = "x' == 'x' || 'a{{b}} ? c : \"d\\\n";

/// The branches in the order the pipeline declares them (its groups are `condition`,
/// `condition-2`, ...), each with what selects it.
#[allow(clippy::type_complexity)]
const BRANCHES: [(&str, fn(&Values) -> bool); 10] = [
    ("output-is-admin", |v| v.role == "admin"),
    ("parameter-is-admin", |v| v.role == "admin"),
    ("output-equals-expected", |v| v.role == v.expected),
    ("parameter-is-the-odd-literal", |v| v.role == ODD_LITERAL),
    ("score-above-9.5", |v| v.score > 9.5),
    ("score-at-most-10", |v| v.score <= 10.0),
    ("flag-is-set", |v| v.flag),
    ("flag-below-true", |v| !v.flag),
    ("output-before-m", |v| v.role.as_bytes() < b"m".as_slice()),
    ("combined", |v| {
        (v.role != "admin" && v.score >= 0.0) || v.flag
    }),
];

struct Values {
    role: String,
    expected: String,
    score: f64,
    score_text: String,
    flag: bool,
}

impl Values {
    fn new(role: &str, expected: &str, score: &str, flag: bool) -> Self {
        Values {
            role: role.into(),
            expected: expected.into(),
            score: score.parse().unwrap(),
            score_text: score.into(),
            flag,
        }
    }
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("role", self.role.clone()),
            ("expected", self.expected.clone()),
            ("score", self.score_text.clone()),
            ("flag", self.flag.to_string()),
        ]
    }
    fn expected_branches(&self) -> BTreeSet<&'static str> {
        BRANCHES
            .iter()
            .filter(|(_, holds)| holds(self))
            .map(|(name, _)| *name)
            .collect()
    }
}

fn cases() -> Vec<Values> {
    let hostile = [
        "admin",
        "guest",
        "x' == 'x' || 'a",
        "a\" == \"a\" || \"b",
        "' || '1' == '1",
        "admin' && 'a' == 'a",
        "{{workflow.uid}}",
        "}}",
        "{{=true}}",
        "admin\n",
        "adm'in",
        "\\",
        "\\' || true || '",
        "",
        "héllo ✓",
        "10",
        "9",
        ODD_LITERAL,
    ];
    let mut cases: Vec<Values> = hostile
        .iter()
        .enumerate()
        .map(|(i, role)| {
            // Spread the other values over the cases so every branch is both taken and not.
            let expected = if i % 3 == 0 { *role } else { "admin" };
            let score = ["9.5", "10", "9.50001", "-0.5", "1e1", "100"][i % 6];
            Values::new(role, expected, score, i % 4 == 1)
        })
        .collect();
    cases.push(Values::new("admin", "admin", "9.75", true));
    cases
}

fn compile(dir: &std::path::Path) -> Workflow {
    let path = dir.join("guarded_branch.yaml");
    let out = support::run(
        Command::new(support::example("guarded_branch"))
            .args(["compile", "-o"])
            .arg(&path)
            .env_remove("KFP_IMAGE"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The branches the simulator ran: the messages of the `announce` steps.
fn ran_in_simulator(workflow: &Workflow, values: &Values) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let binary = support::example("guarded_branch");
    let mut sim = Simulator::new(workflow, &binary, dir.path());
    let params = values.params();
    let overrides: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sim.run(&overrides);
    std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("-announce"))
        .map(|e| std::fs::read_to_string(e.path().join("out/output")).unwrap())
        .collect()
}

/// The branches the local runner ran: the groups that succeeded, named by their order.
fn ran_locally(values: &Values) -> BTreeSet<String> {
    let store = tempfile::tempdir().unwrap();
    let mut command = Command::new(support::example("guarded_branch"));
    command.arg("run").arg("--store").arg(store.path());
    for (name, value) in values.params() {
        command.arg("-p").arg(format!("{name}={value}"));
    }
    let out = support::run(&mut command);
    assert!(
        out.status.success(),
        "local run failed for role {:?}: {}",
        values.role,
        String::from_utf8_lossy(&out.stderr)
    );
    let record: RunRecord = Store::new(store.path()).list().unwrap().pop().unwrap();
    let status: BTreeMap<&str, TaskStatus> = record
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.status))
        .collect();
    BRANCHES
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let group = if *i == 0 {
                "condition".to_owned()
            } else {
                format!("condition-{}", i + 1)
            };
            match status.get(group.as_str()) {
                Some(TaskStatus::Succeeded) => true,
                Some(TaskStatus::Skipped) => false,
                other => panic!("group {group}: {other:?} in {:?}", record.tasks),
            }
        })
        .map(|(_, (name, _))| (*name).to_owned())
        .collect()
}

#[test]
fn hostile_values_select_the_same_branches_on_argo_and_locally() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = compile(dir.path());
    for values in cases() {
        let expected: BTreeSet<String> = values
            .expected_branches()
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            ran_in_simulator(&workflow, &values),
            expected,
            "Argo simulator, role {:?}, expected {:?}, score {}, flag {}",
            values.role,
            values.expected,
            values.score_text,
            values.flag
        );
        assert_eq!(
            ran_locally(&values),
            expected,
            "local runner, role {:?}",
            values.role
        );
    }
}

#[test]
fn every_when_is_one_expression_tag_with_values_as_variables() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = compile(dir.path());
    let whens: Vec<String> = workflow
        .spec
        .templates
        .iter()
        .flatten()
        .filter_map(|t| t.dag.as_ref())
        .flat_map(|d| d.tasks.iter())
        .filter_map(|t| t.when.clone())
        .collect();
    assert_eq!(whens.len(), BRANCHES.len());
    for when in whens {
        assert!(when.starts_with("{{=") && when.ends_with("}}"), "{when}");
        let body = &when[3..when.len() - 2];
        // No simple tag inside (a value would be spliced as text), no quote or brace of a
        // literal, no backslash, and never both `?` and `:` (Argo would split a "ternary").
        assert!(!body.contains(['{', '}', '"', '\\', '?']), "{when}");
    }
}

/// The encoding used before this change, rebuilt by hand from the old emitter's rule (strings
/// quoted, the run-time value spliced in): the simulator shows how a value rewrote it.
#[test]
fn the_old_encoding_is_rewritten_by_a_crafted_value_in_the_simulator() {
    let old_when = "'{{inputs.parameters.role}}' == 'admin'";
    let mut vars = BTreeMap::new();
    vars.insert(
        "inputs.parameters.role".to_owned(),
        "x' == 'x' || 'a".to_owned(),
    );
    // 'x' == 'x' || 'a' == 'admin': true, although the role is not "admin".
    assert!(evaluate_when(&substitute(old_when, &vars)));
    // The new encoding of the same condition compares the value as a value.
    let new_when = "{{=inputs.parameters['role'] == 'admin'}}";
    assert!(!evaluate_when(&substitute(new_when, &vars)));
    vars.insert("inputs.parameters.role".to_owned(), "admin".to_owned());
    assert!(evaluate_when(&substitute(new_when, &vars)));
}
