//! The checks `argo lint` makes beyond Argo's JSON schema, made on the compiled resource
//! before any YAML is written.
//!
//! Argo's schema accepts much that Argo itself refuses: a template type missing, a task
//! depending on a task that does not exist, a `{{tasks.x.outputs.parameters.y}}` that
//! resolves to nothing, a retry policy Argo does not know. Argo's validator
//! (`workflow/validate/validate.go`) catches those when the workflow is submitted; this
//! module makes the same checks at compile time, with Argo's messages and the template,
//! task and field they are about: `templates.train.container.image: may not be empty`.
//!
//! [`check_workflow`], [`check_workflow_template`], [`check_cron_workflow`] and
//! [`check_workflow_of_template`] check one resource each and return every problem found
//! ([`LintErrors`]). The compiler runs them on everything it makes
//! ([`super::compile`], [`super::compile_as`]). `docs/lint.md` lists the rules, the few
//! places where they are stricter than Argo (marked *kfp-rs* in the messages' docs), and the
//! rules that do not apply to what kfp-rs generates.
//!
//! ```
//! use kfp_sdk::argo::{lint, model};
//!
//! let workflow: model::Workflow = serde_saphyr::from_str(r#"
//! apiVersion: argoproj.io/v1alpha1
//! kind: Workflow
//! metadata: {generateName: broken-}
//! spec:
//!   entrypoint: main
//!   templates:
//!   - name: main
//!     dag:
//!       tasks:
//!       - {name: a, template: step, depends: b}
//!   - name: step
//!     container: {image: ""}
//! "#).unwrap();
//! let errors = lint::check_workflow(&workflow).unwrap_err();
//! let messages: Vec<String> = errors.errors.iter().map(|e| e.to_string()).collect();
//! assert!(messages.contains(&"templates.main.tasks.a: dependency 'b' not defined".to_owned()));
//! assert!(messages.contains(&"templates.step.container.image: may not be empty".to_owned()));
//! ```
mod cron;
mod timezones;

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::model;

use cron::go_duration;

/// `docs/lint.md`, whose examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/lint.md")]
struct LintDocPage;

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    /// The place, as Argo names it: `templates.NAME`, `templates.NAME.tasks.TASK`,
    /// `spec.arguments.parameters[0]`, `metadata.name`, ...
    pub at: String,
    /// What is wrong (Argo's wording where Argo has a message for it).
    pub message: String,
}

impl std::fmt::Display for LintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Every problem found in one resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource} would be rejected by Argo:{}", list(.errors))]
pub struct LintErrors {
    /// The resource: `Workflow 'name-'`, `CronWorkflow 'nightly'`, ...
    pub resource: String,
    /// The problems, in the order found.
    pub errors: Vec<LintError>,
}

fn list(errors: &[LintError]) -> String {
    errors.iter().map(|e| format!("\n  - {e}")).collect()
}

/// Checks a Workflow (one with `workflowTemplateRef` needs its template: see
/// [`check_workflow_of_template`]).
pub fn check_workflow(workflow: &model::Workflow) -> Result<(), LintErrors> {
    let mut linter = Linter::new(Mode::Workflow);
    linter.object("Workflow", &workflow.metadata, MAX_NAME);
    if workflow.spec.workflow_template_ref.is_some() {
        linter.push(
            "spec.workflowTemplateRef",
            "the referenced WorkflowTemplate is needed to check this workflow",
        );
    } else {
        linter.spec(&workflow.spec, &workflow.metadata);
    }
    linter.finish("Workflow", &workflow.metadata)
}

/// Checks a WorkflowTemplate (its entrypoint may be left to the workflows that use it, and
/// its parameters may lack values).
pub fn check_workflow_template(template: &model::WorkflowTemplate) -> Result<(), LintErrors> {
    let mut linter = Linter::new(Mode::Template);
    linter.object("WorkflowTemplate", &template.metadata, MAX_NAME);
    linter.spec(&template.spec, &template.metadata);
    linter.finish("WorkflowTemplate", &template.metadata)
}

/// Checks a Workflow that runs `template` through `workflowTemplateRef`: the reference, and
/// the template's spec with the workflow's entrypoint and arguments.
pub fn check_workflow_of_template(
    workflow: &model::Workflow,
    template: &model::WorkflowTemplate,
) -> Result<(), LintErrors> {
    let spec = &workflow.spec;
    let referenced = spec
        .workflow_template_ref
        .as_ref()
        .and_then(|r| r.name.as_deref());
    // The template's spec, as the workflow runs it: its entrypoint and arguments win.
    let mut merged = template.spec.clone();
    if spec.entrypoint.is_some() {
        merged.entrypoint = spec.entrypoint.clone();
    }
    if let Some(args) = &spec.arguments {
        let target = merged.arguments.get_or_insert_with(Default::default);
        for p in args.parameters.iter().flatten() {
            let params = target.parameters.get_or_insert_with(Vec::new);
            match params.iter_mut().find(|q| q.name == p.name) {
                Some(existing) => *existing = p.clone(),
                None => params.push(p.clone()),
            }
        }
    }
    let mut linter = Linter::new(Mode::Workflow);
    linter.object("Workflow", &workflow.metadata, MAX_NAME);
    if spec.templates.as_ref().is_some_and(|t| !t.is_empty()) {
        linter.push(
            "spec.templates",
            "Templates is invalid field in spec if workflow referred WorkflowTemplate reference",
        );
    }
    match referenced {
        None => linter.push("spec.workflowTemplateRef.name", "is required"),
        Some(name) if Some(name) != template.metadata.name.as_deref() => linter.push(
            "spec.workflowTemplateRef",
            format!("workflow template '{name}' not found"),
        ),
        Some(_) => linter.spec(&merged, &template.metadata),
    }
    linter.finish("Workflow", &workflow.metadata)
}

/// Checks a CronWorkflow: name length, schedules, time zone, concurrency policy, starting
/// deadline, then its workflow as Argo submits it (parameters need values).
pub fn check_cron_workflow(cron: &model::CronWorkflow) -> Result<(), LintErrors> {
    let mut linter = Linter::new(Mode::Cron);
    linter.object("CronWorkflow", &cron.metadata, MAX_CRON_NAME);
    let spec = &cron.spec;
    if spec.schedules.is_empty() {
        linter.push(
            "spec.schedules",
            "cron workflow must have at least one schedule",
        );
    }
    for (i, schedule) in spec.schedules.iter().enumerate() {
        if let Err(e) = cron::check_schedule(schedule) {
            linter.push(
                format!("spec.schedules[{i}]"),
                format!("cron schedule {schedule} is malformed: {e}"),
            );
        }
    }
    if let Some(zone) = &spec.timezone
        && !cron::is_time_zone(zone)
    {
        linter.push(
            "spec.timezone",
            format!("invalid timezone \"{zone}\": unknown time zone {zone}"),
        );
    }
    if let Some(policy) = &spec.concurrency_policy
        && !matches!(policy.as_str(), "Allow" | "Forbid" | "Replace" | "")
    {
        linter.push(
            "spec.concurrencyPolicy",
            format!("'{policy}' is not a valid concurrencyPolicy"),
        );
    }
    if spec.starting_deadline_seconds.is_some_and(|s| s < 0) {
        linter.push(
            "spec.startingDeadlineSeconds",
            "startingDeadlineSeconds must be positive",
        );
    }
    for (field, limit) in [
        (
            "successfulJobsHistoryLimit",
            spec.successful_jobs_history_limit,
        ),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ] {
        if limit.is_some_and(|n| n < 0) {
            linter.push(format!("spec.{field}"), "must not be negative");
        }
    }
    linter.spec(&spec.workflow_spec, &cron.metadata);
    linter.finish("CronWorkflow", &cron.metadata)
}

/// A place in the resource, made into text only for a message.
type At<'x> = &'x dyn Fn() -> String;

/// Something that calls a function with each of its strings.
type Visit<'x> = &'x mut dyn FnMut(&mut dyn FnMut(&str));

/// No arguments.
const NO_ARGUMENTS: model::Arguments = model::Arguments {
    artifacts: None,
    parameters: None,
};

/// The longest name of a Workflow or WorkflowTemplate (a label value holds it).
const MAX_NAME: usize = 63;
/// The longest CronWorkflow name: Argo appends `-` and a 10-digit timestamp to it.
const MAX_CRON_NAME: usize = 52;
/// The longest template, task, step name.
const MAX_FIELD_NAME: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `argo lint` of a Workflow: parameters may lack values (given at submission).
    Workflow,
    /// A WorkflowTemplate: no entrypoint needed, any `workflow.parameters.*` may come later.
    Template,
    /// A CronWorkflow's workflow, checked as submitted: parameters need values.
    Cron,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    ContainerSet,
    Steps,
    Script,
    Resource,
    Dag,
    Suspend,
    Data,
    Http,
    Plugin,
}

impl Kind {
    fn of(t: &model::Template) -> Vec<Kind> {
        [
            (t.container.is_some(), Kind::Container),
            (t.container_set.is_some(), Kind::ContainerSet),
            (t.steps.is_some(), Kind::Steps),
            (t.script.is_some(), Kind::Script),
            (t.resource.is_some(), Kind::Resource),
            (t.dag.is_some(), Kind::Dag),
            (t.suspend.is_some(), Kind::Suspend),
            (t.data.is_some(), Kind::Data),
            (t.http.is_some(), Kind::Http),
            (t.plugin.is_some(), Kind::Plugin),
        ]
        .into_iter()
        .filter_map(|(set, kind)| set.then_some(kind))
        .collect()
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::ContainerSet => "ContainerSet",
            Kind::Steps => "Steps",
            Kind::Script => "Script",
            Kind::Resource => "Resource",
            Kind::Dag => "DAG",
            Kind::Suspend => "Suspend",
            Kind::Data => "Data",
            Kind::Http => "HTTP",
            Kind::Plugin => "Plugin",
        }
    }

    /// Argo's `IsLeaf`: templates that run something themselves.
    fn is_leaf(self) -> bool {
        !matches!(self, Kind::Steps | Kind::Dag | Kind::Suspend)
    }

    /// Not a template of other templates (Argo validates these as leaves, suspend included).
    fn is_not_group(self) -> bool {
        !matches!(self, Kind::Steps | Kind::Dag)
    }

    fn is_pod(self) -> bool {
        matches!(
            self,
            Kind::Container | Kind::ContainerSet | Kind::Script | Kind::Resource
        )
    }
}

/// The one kind of a template, if it has exactly one.
fn kind_of(t: &model::Template) -> Option<Kind> {
    match Kind::of(t).as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Whether a template's node has `outputs.result` and `exitCode` (Argo's `HasOutput`).
fn has_output(t: &model::Template) -> bool {
    t.container.is_some()
        || t.container_set
            .as_ref()
            .is_some_and(|s| s.containers.iter().any(|c| c.name == "main"))
        || t.script.is_some()
        || t.data.is_some()
        || t.http.is_some()
        || t.plugin.is_some()
}

/// The variables one place may use.
#[derive(Debug, Clone, Default)]
struct Scope {
    names: HashSet<String>,
    /// Any variable starting with one of these resolves (outputs of a task whose template
    /// cannot be seen, e.g. one from a `templateRef`).
    prefixes: Vec<String>,
    /// `{{item.KEY}}` for any key (`withParam`).
    any_item: bool,
}

impl Scope {
    fn add(&mut self, name: impl Into<String>) {
        self.names.insert(name.into());
    }
}

/// The roots Argo checks; other `{{...}}` are left alone.
const CHECKED_ROOTS: [&str; 7] = [
    "item.",
    "steps.",
    "inputs.",
    "outputs.",
    "pod.",
    "workflow.",
    "tasks.",
];

/// Variables that resolve at run time, which Argo accepts by prefix.
const RUNTIME_PREFIXES: [&str; 7] = [
    "outputs.",
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
    "node.name",
];

struct Linter<'a> {
    mode: Mode,
    errors: Vec<LintError>,
    templates: HashMap<&'a str, &'a model::Template>,
    globals: HashSet<String>,
    /// Names of the workflow's volumes and volume claim templates.
    workflow_volumes: HashSet<String>,
    default_container_image: bool,
    default_script_image: bool,
}

impl<'a> Linter<'a> {
    fn new(mode: Mode) -> Self {
        Linter {
            mode,
            errors: Vec::new(),
            templates: HashMap::new(),
            globals: HashSet::new(),
            workflow_volumes: HashSet::new(),
            default_container_image: false,
            default_script_image: false,
        }
    }

    fn push(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.errors.push(LintError {
            at: at.into(),
            message: message.into(),
        });
    }

    fn finish(self, kind: &str, metadata: &metav1::ObjectMeta) -> Result<(), LintErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let name = metadata
            .name
            .as_deref()
            .or(metadata.generate_name.as_deref())
            .unwrap_or_default();
        Err(LintErrors {
            resource: format!("{kind} '{name}'"),
            errors: self.errors,
        })
    }

    /// Object name, generated name, namespace, labels.
    fn object(&mut self, kind: &str, m: &metav1::ObjectMeta, max: usize) {
        let kind_words = match kind {
            "Workflow" => "workflow",
            "WorkflowTemplate" => "workflow template",
            _ => "cron workflow",
        };
        match (&m.name, &m.generate_name) {
            (Some(name), _) => {
                if name.len() > max {
                    self.push(
                        "metadata.name",
                        format!(
                            "{kind_words} name \"{name}\" must not be more than {max} characters long (currently {})",
                            name.len()
                        ),
                    );
                }
                if !is_dns_subdomain(name) {
                    self.push("metadata.name", format!("'{name}' is not a valid Kubernetes object name (lowercase letters, digits, '-' and '.')"));
                }
            }
            (None, Some(prefix)) => {
                if kind != "Workflow" {
                    self.push("metadata.name", format!("a {kind} needs a name"));
                } else if !is_dns_subdomain(&format!("{prefix}a")) {
                    self.push(
                        "metadata.generateName",
                        format!("'{prefix}' is not a valid Kubernetes name prefix"),
                    );
                }
            }
            (None, None) => self.push("metadata", "name or generateName is required"),
        }
        if let Some(namespace) = &m.namespace
            && !is_dns_label(namespace)
        {
            self.push(
                "metadata.namespace",
                format!("'{namespace}' is not a valid namespace (a DNS label)"),
            );
        }
        if let Some(labels) = &m.labels {
            self.labels("metadata.labels", labels);
        }
    }

    fn labels(&mut self, at: &str, labels: &BTreeMap<String, String>) {
        for (key, value) in labels {
            if let Err(e) = label_key(key) {
                self.push(format!("{at}.{key}"), e);
            }
            if let Err(e) = label_value(value) {
                self.push(format!("{at}.{key}"), e);
            }
        }
    }

    fn spec(&mut self, spec: &'a model::WorkflowSpec, metadata: &metav1::ObjectMeta) {
        let templates = spec.templates.as_deref().unwrap_or_default();
        self.names(
            "spec",
            ".templates",
            templates
                .iter()
                .map(|t| t.name.as_deref().unwrap_or_default()),
            NameRule::Field,
        );
        for t in templates {
            if let Some(name) = t.name.as_deref() {
                self.templates.entry(name).or_insert(t);
            }
        }
        if let Some(defaults) = &spec.template_defaults {
            self.default_container_image = defaults
                .container
                .as_ref()
                .and_then(|c| c.image.as_deref())
                .is_some_and(|i| !i.is_empty());
            self.default_script_image = defaults
                .script
                .as_ref()
                .is_some_and(|s| !s.image.is_empty());
        }
        self.globals(spec, metadata);
        self.workflow_volumes(spec);
        let args = spec.arguments.clone().unwrap_or_default();
        self.arguments(
            &|| "spec.arguments".to_owned(),
            &args,
            self.mode != Mode::Cron,
        );

        match spec.entrypoint.as_deref() {
            None | Some("") if self.mode == Mode::Template => {}
            None | Some("") => self.push("spec.entrypoint", "spec.entrypoint is required"),
            Some(entry) => match self.templates.get(entry) {
                None => self.push(
                    "spec.entrypoint",
                    format!("template name '{entry}' undefined"),
                ),
                Some(template) => {
                    if self.mode != Mode::Template {
                        self.supplied(&|| format!("templates.{entry}"), template, &args, true);
                    }
                }
            },
        }
        if let Some(exit) = spec.on_exit.as_deref()
            && !self.templates.contains_key(exit)
        {
            self.push("spec.onExit", format!("template name '{exit}' undefined"));
        }
        for (name, hook) in spec.hooks.iter().flatten() {
            self.hook(&format!("hooks.{name}"), name, hook, &[], None);
        }
        if let Some(strategy) = spec.pod_gc.as_ref().and_then(|p| p.strategy.as_deref())
            && !matches!(
                strategy,
                "" | "OnPodCompletion"
                    | "OnPodSuccess"
                    | "OnWorkflowCompletion"
                    | "OnWorkflowSuccess"
            )
        {
            self.push(
                "spec.podGC.strategy",
                format!("podGC.strategy unknown strategy '{strategy}'"),
            );
        }
        if let Some(strategy) = spec
            .volume_claim_gc
            .as_ref()
            .and_then(|p| p.strategy.as_deref())
            && !matches!(strategy, "" | "OnWorkflowCompletion" | "OnWorkflowSuccess")
        {
            self.push(
                "spec.volumeClaimGC.strategy",
                format!("unknown strategy '{strategy}'"),
            );
        }
        if spec.active_deadline_seconds.is_some_and(|s| s <= 0) {
            self.push(
                "spec.activeDeadlineSeconds",
                "must be a positive integer (0 stops a running workflow)",
            );
        }
        if spec.parallelism.is_some_and(|p| p < 1) {
            self.push("spec.parallelism", "must be at least 1");
        }
        if let Some(ttl) = &spec.ttl_strategy {
            for (field, value) in [
                ("secondsAfterCompletion", ttl.seconds_after_completion),
                ("secondsAfterSuccess", ttl.seconds_after_success),
                ("secondsAfterFailure", ttl.seconds_after_failure),
            ] {
                if value.is_some_and(|v| v < 0) {
                    self.push(format!("spec.ttlStrategy.{field}"), "must not be negative");
                }
            }
        }
        if let Some(account) = &spec.service_account_name
            && !is_dns_subdomain(account)
        {
            self.push(
                "spec.serviceAccountName",
                format!("'{account}' is not a valid service account name"),
            );
        }
        for (i, secret) in spec.image_pull_secrets.iter().flatten().enumerate() {
            if !is_dns_subdomain(&secret.name) {
                self.push(
                    format!("spec.imagePullSecrets[{i}].name"),
                    format!("'{}' is not a valid Secret name", secret.name),
                );
            }
        }
        for t in templates {
            self.template(t);
        }
    }

    /// Workflow-level variables (`{{workflow.*}}`).
    fn globals(&mut self, spec: &model::WorkflowSpec, metadata: &metav1::ObjectMeta) {
        let g = &mut self.globals;
        for name in [
            "name",
            "namespace",
            "mainEntrypoint",
            "serviceAccountName",
            "uid",
            "status",
            "annotations",
            "annotations.json",
            "labels",
            "labels.json",
        ] {
            g.insert(format!("workflow.{name}"));
        }
        let params = spec
            .arguments
            .as_ref()
            .and_then(|a| a.parameters.as_deref())
            .unwrap_or_default();
        if !params.is_empty() {
            g.insert("workflow.parameters".into());
            g.insert("workflow.parameters.json".into());
        }
        for p in params {
            g.insert(format!("workflow.parameters.{}", p.name));
        }
        let mut annotation_keys: Vec<&String> = metadata
            .annotations
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        let mut label_keys: Vec<&String> =
            metadata.labels.iter().flatten().map(|(k, _)| k).collect();
        if let Some(wm) = &spec.workflow_metadata {
            annotation_keys.extend(wm.annotations.iter().flatten().map(|(k, _)| k));
            label_keys.extend(wm.labels.iter().flatten().map(|(k, _)| k));
            label_keys.extend(wm.labels_from.iter().flatten().map(|(k, _)| k));
        }
        for k in annotation_keys {
            g.insert(format!("workflow.annotations.{k}"));
        }
        for k in label_keys {
            g.insert(format!("workflow.labels.{k}"));
        }
        if spec.priority.is_some() {
            g.insert("workflow.priority".into());
        }
        // Argo adds `workflow.failures` for exit handlers. kfp-rs also accepts it with a
        // workflow-level exit hook (which Argo's validator does not look into).
        let exit_hook = spec.hooks.as_ref().is_some_and(|h| h.contains_key("exit"));
        if spec.on_exit.is_some() || exit_hook {
            g.insert("workflow.failures".into());
        }
        for t in spec.templates.iter().flatten() {
            let outputs = t.outputs.as_ref();
            for p in outputs
                .and_then(|o| o.parameters.as_ref())
                .into_iter()
                .flatten()
            {
                if let Some(global) = &p.global_name {
                    g.insert(format!("workflow.outputs.parameters.{global}"));
                }
            }
            for a in outputs
                .and_then(|o| o.artifacts.as_ref())
                .into_iter()
                .flatten()
            {
                if let Some(global) = &a.global_name {
                    g.insert(format!("workflow.outputs.artifacts.{global}"));
                }
            }
        }
    }

    fn workflow_volumes(&mut self, spec: &model::WorkflowSpec) {
        let volumes: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        self.names(
            "spec",
            ".volumes",
            volumes.iter().copied(),
            NameRule::DnsLabel,
        );
        let claims: Vec<&str> = spec
            .volume_claim_templates
            .iter()
            .flatten()
            .map(|c| c.metadata.name.as_deref().unwrap_or_default())
            .collect();
        self.names(
            "spec",
            ".volumeClaimTemplates",
            claims.iter().copied(),
            NameRule::DnsLabel,
        );
        for (i, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
            let size = claim
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"));
            if size.is_none() {
                self.push(
                    format!("spec.volumeClaimTemplates[{i}].spec.resources.requests.storage"),
                    "is required",
                );
            }
        }
        self.workflow_volumes = volumes
            .into_iter()
            .chain(claims)
            .map(str::to_owned)
            .collect();
    }

    /// Names of a list (`{at}{field}`): present, valid, unique.
    fn names<'n, I>(&mut self, at: &str, field: &str, names: I, rule: NameRule)
    where
        I: IntoIterator<Item = &'n str>,
        I::IntoIter: Clone,
    {
        self.names_at(&|| format!("{at}{field}"), names, rule);
    }

    /// Names of the list at `at()` (made only for a message): present, valid, unique.
    fn names_at<'n, I>(&mut self, at: At, names: I, rule: NameRule)
    where
        I: IntoIterator<Item = &'n str>,
        I::IntoIter: Clone,
    {
        let names = names.into_iter();
        // Short lists (arguments, inputs) are compared pairwise, without allocating.
        let short = names.clone().nth(16).is_none();
        let mut seen = HashSet::new();
        for (i, name) in names.clone().enumerate() {
            let place = || format!("{}[{i}].name", at());
            if name.is_empty() {
                self.push(place(), "is required");
                continue;
            }
            if let Err(e) = rule.check(name) {
                self.push(place(), format!("'{name}' is invalid: {e}"));
            }
            let repeated = if short {
                names.clone().take(i).any(|other| other == name)
            } else {
                !seen.insert(name)
            };
            if repeated {
                self.push(place(), format!("'{name}' is not unique"));
            }
        }
    }

    /// Arguments of the workflow, a task or a step (`validateArguments`), at `at()`.
    fn arguments(&mut self, at: At, args: &model::Arguments, allow_empty: bool) {
        let params = args.parameters.as_deref().unwrap_or_default();
        let artifacts = args.artifacts.as_deref().unwrap_or_default();
        if !params.is_empty() {
            self.names_at(
                &|| format!("{}.parameters", at()),
                params.iter().map(|p| p.name.as_str()),
                NameRule::Param,
            );
        }
        if !artifacts.is_empty() {
            self.names_at(
                &|| format!("{}.artifacts", at()),
                artifacts.iter().map(|a| a.name.as_str()),
                NameRule::Param,
            );
        }
        for p in params {
            let here = || format!("{}.parameters.{}", at(), p.name);
            if p.value.is_none() && p.value_from.is_none() && !allow_empty {
                self.push(here(), "value or valueFrom is required");
            }
            if let Some(from) = &p.value_from {
                let allowed = from.config_map_key_ref.is_some()
                    || from.event.is_some()
                    || from.supplied.is_some();
                let forbidden = from.path.is_some()
                    || from.json_path.is_some()
                    || from.parameter.is_some()
                    || from.expression.is_some();
                if !allowed || forbidden {
                    self.push(
                        here(),
                        "valueFrom only allows: default, configMapKeyRef and supplied",
                    );
                }
            }
            if let Some(options) = &p.r#enum {
                if options.is_empty() {
                    self.push(here(), "enum should contain at least one value");
                } else if let Some(value) = &p.value
                    && !options.contains(value)
                {
                    self.push(here(), "value should be present in the enum list");
                } else if p.value.is_none() && !allow_empty {
                    self.push(here(), "value is required");
                }
            }
        }
        for a in artifacts {
            let here = || format!("{}.artifacts.{}", at(), a.name);
            if a.from.is_none() && a.from_expression.is_none() && !has_location(a) {
                self.push(here(), "from, artifact location, or key is required");
            }
            if a.from.is_some() && a.from_expression.is_some() {
                self.push(
                    here(),
                    "shouldn't have both `from` and `fromExpression` in Artifact",
                );
            }
        }
    }

    /// Every input of `template` without a default is given by `args`.
    fn supplied(
        &mut self,
        at: At,
        template: &model::Template,
        args: &model::Arguments,
        entry: bool,
    ) {
        let inputs = template.inputs.as_ref();
        let params = args.parameters.as_deref().unwrap_or_default();
        for p in inputs
            .and_then(|i| i.parameters.as_ref())
            .into_iter()
            .flatten()
        {
            let has_own = p.default.is_some() || p.value.is_some() || p.value_from.is_some();
            let given = params.iter().any(|a| {
                a.name == p.name && (entry || a.value.is_some() || a.value_from.is_some())
            });
            if !has_own && !given {
                self.push(
                    at(),
                    format!("inputs.parameters.{} was not supplied", p.name),
                );
            }
        }
        let artifacts = args.artifacts.as_deref().unwrap_or_default();
        for a in inputs
            .and_then(|i| i.artifacts.as_ref())
            .into_iter()
            .flatten()
        {
            if a.optional != Some(true)
                && !has_location(a)
                && !artifacts.iter().any(|given| given.name == a.name)
            {
                self.push(
                    at(),
                    format!("inputs.artifacts.{} was not supplied", a.name),
                );
            }
        }
    }

    /// A lifecycle hook (workflow-level, or on a task or step).
    fn hook(
        &mut self,
        at: &str,
        name: &str,
        hook: &model::LifecycleHook,
        scopes: &[&Scope],
        nodes: Option<&Nodes>,
    ) {
        if name != "exit" && hook.expression.as_deref().unwrap_or_default().is_empty() {
            self.push(at, "Expression required");
        }
        if let Some(template) = hook.template.as_deref() {
            match self.templates.get(template).copied() {
                None => self.push(at, format!("template name '{template}' undefined")),
                Some(t) => {
                    let args = hook.arguments.clone().unwrap_or_default();
                    self.arguments(&|| format!("{at}.arguments"), &args, false);
                    self.supplied(&|| at.to_owned(), t, &args, false);
                }
            }
        }
        if let Some(args) = &hook.arguments {
            let value = serde_json::to_value(args).unwrap_or_default();
            self.resolve_all(at, &value, scopes, nodes);
        }
    }

    /// Every `{{...}}` in `value` resolves in `scopes` (or, for `{{tasks.X...}}`, among
    /// `nodes`).
    fn resolve_all(
        &mut self,
        at: &str,
        value: &serde_json::Value,
        scopes: &[&Scope],
        nodes: Option<&Nodes>,
    ) {
        self.resolve_strings(
            &|| at.to_owned(),
            &mut |f| walk_strings(value, f),
            scopes,
            nodes,
        );
    }

    /// Every `{{...}}` in the strings `visit` gives resolves in `scopes` (or, for
    /// `{{tasks.X...}}`, among `nodes`).
    fn resolve_strings(&mut self, at: At, visit: Visit, scopes: &[&Scope], nodes: Option<&Nodes>) {
        let mut problems = Vec::new();
        {
            let this = &*self;
            let mut check = |text: &str| {
                let outcome = for_each_tag(text, |tag| {
                    let verdict = match nodes.and_then(|n| n.resolve(tag)) {
                        Some(verdict) => verdict,
                        None => this.resolve(tag, scopes),
                    };
                    if let Err(e) = verdict {
                        problems.push(e);
                    }
                });
                if let Err(e) = outcome {
                    problems.push(e);
                }
            };
            visit(&mut check);
        }
        for problem in problems {
            self.push(at(), problem);
        }
    }

    fn resolve(&self, tag: &str, scopes: &[&Scope]) -> Result<(), String> {
        if tag.starts_with('=') {
            return Ok(()); // expressions are not checked, as in Argo
        }
        let tag_trimmed = tag.trim();
        let in_scope = |name: &str| scopes.iter().any(|s| s.names.contains(name));
        if tag_trimmed == "item" {
            return if in_scope("item") {
                Ok(())
            } else {
                Err("{{item}} is only defined in a task or step with withItems, withParam or withSequence".into())
            };
        }
        if !CHECKED_ROOTS.iter().any(|r| tag_trimmed.starts_with(r)) {
            return Ok(());
        }
        if in_scope(tag_trimmed) || self.globals.contains(tag_trimmed) {
            return Ok(());
        }
        let lax = (tag_trimmed.starts_with("item.") && scopes.iter().any(|s| s.any_item))
            || RUNTIME_PREFIXES.iter().any(|p| tag_trimmed.starts_with(p))
            || scopes.iter().any(|s| {
                s.prefixes
                    .iter()
                    .any(|p| tag_trimmed.starts_with(p.as_str()))
            })
            || (self.mode == Mode::Template && tag_trimmed.starts_with("workflow.parameters"));
        if lax {
            Ok(())
        } else {
            Err(format!("failed to resolve {{{{{tag}}}}}"))
        }
    }

    /// The variables any place in a template may use: its inputs, and globals.
    fn template_scope(&self, t: &model::Template, kind: Option<Kind>) -> Scope {
        let mut scope = Scope::default();
        let inputs = t.inputs.as_ref();
        let params = inputs
            .and_then(|i| i.parameters.as_deref())
            .unwrap_or_default();
        for p in params {
            scope.add(format!("inputs.parameters.{}", p.name));
        }
        if !params.is_empty() {
            scope.add("inputs.parameters");
        }
        let leaf = kind.is_some_and(Kind::is_leaf);
        for a in inputs
            .and_then(|i| i.artifacts.as_deref())
            .unwrap_or_default()
        {
            scope.add(format!("inputs.artifacts.{}", a.name));
            if leaf {
                scope.add(format!("inputs.artifacts.{}.path", a.name));
            }
        }
        if kind.is_some_and(Kind::is_pod) {
            scope.add("pod.name");
        }
        if t.retry_strategy.is_some() {
            for v in [
                "retries",
                "lastRetry.exitCode",
                "lastRetry.status",
                "lastRetry.duration",
                "lastRetry.message",
            ] {
                scope.add(v);
            }
        }
        if leaf {
            let outputs = t.outputs.as_ref();
            for p in outputs
                .and_then(|o| o.parameters.as_deref())
                .unwrap_or_default()
            {
                if p.value_from.as_ref().is_some_and(|v| v.path.is_some()) {
                    scope.add(format!("outputs.parameters.{}.path", p.name));
                }
            }
            for a in outputs
                .and_then(|o| o.artifacts.as_deref())
                .unwrap_or_default()
            {
                if a.path.is_some() {
                    scope.add(format!("outputs.artifacts.{}.path", a.name));
                }
            }
        }
        scope
    }

    fn template(&mut self, t: &'a model::Template) {
        let name = t.name.as_deref().unwrap_or_default();
        let at = format!("templates.{name}");
        let kinds = Kind::of(t);
        let kind = match kinds.as_slice() {
            [] => {
                self.push(&at, "template type unspecified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref");
                None
            }
            [one] => Some(*one),
            _ => {
                self.push(&at, "multiple template types specified. choose one of: container, containerSet, steps, script, resource, dag, suspend, template, template ref");
                None
            }
        };
        let leaf = kind.is_some_and(Kind::is_leaf);
        self.inputs(&at, t, leaf);
        self.template_fields(&at, t, kind);
        self.pod_settings(&at, t);
        let scope = self.template_scope(t, kind);
        match kind {
            Some(Kind::Dag) => {
                if let Some(dag) = &t.dag {
                    self.dag(&at, t, dag, &scope);
                }
            }
            Some(Kind::Steps) => self.steps(&at, t, &scope),
            Some(_) => self.leaf(&at, t, &scope),
            None => {}
        }
        self.outputs(&at, t, kind);
    }

    fn inputs(&mut self, at: &str, t: &model::Template, leaf: bool) {
        let Some(inputs) = &t.inputs else {
            return;
        };
        let params = inputs.parameters.as_deref().unwrap_or_default();
        let artifacts = inputs.artifacts.as_deref().unwrap_or_default();
        self.names(
            at,
            ".inputs.parameters",
            params.iter().map(|p| p.name.as_str()),
            NameRule::Param,
        );
        self.names(
            at,
            ".inputs.artifacts",
            artifacts.iter().map(|a| a.name.as_str()),
            NameRule::Param,
        );
        for a in artifacts {
            let here = format!("{at}.inputs.artifacts.{}", a.name);
            if a.from.is_some() {
                self.push(&here, "from not valid in inputs");
            }
            if !leaf && a.path.is_some() {
                self.push(&here, "path only valid in container/script templates");
            }
        }
    }

    fn outputs(&mut self, at: &str, t: &model::Template, kind: Option<Kind>) {
        let Some(outputs) = &t.outputs else {
            return;
        };
        let params = outputs.parameters.as_deref().unwrap_or_default();
        let artifacts = outputs.artifacts.as_deref().unwrap_or_default();
        self.names(
            at,
            ".outputs.parameters",
            params.iter().map(|p| p.name.as_str()),
            NameRule::Param,
        );
        self.names(
            at,
            ".outputs.artifacts",
            artifacts.iter().map(|a| a.name.as_str()),
            NameRule::Param,
        );
        let leaf = kind.is_some_and(Kind::is_leaf);
        for a in artifacts {
            if !leaf && a.path.is_some() {
                self.push(
                    format!("{at}.outputs.artifacts.{}", a.name),
                    "path only valid in container/script templates",
                );
            }
        }
        for p in params {
            let here = format!("{at}.outputs.parameters.{}", p.name);
            if p.value.is_some() && p.value_from.is_some() {
                self.push(&here, "has both valueFrom and value specified, choose one");
                continue;
            }
            let Some(from) = &p.value_from else {
                if p.value.is_none() {
                    self.push(&here, "does not have valueFrom or value specified");
                }
                continue;
            };
            let sources = [
                from.path.is_some(),
                from.jq_filter.is_some(),
                from.json_path.is_some(),
                from.parameter.is_some(),
                from.expression.is_some(),
                from.supplied.is_some(),
            ]
            .into_iter()
            .filter(|set| *set)
            .count();
            match sources {
                0 => self.push(&here, "valueFrom type unspecified. choose one of: path, jqFilter, jsonPath, parameter, raw, expression"),
                1 => {}
                _ => self.push(&here, "multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, parameter, raw"),
            }
            let missing = match kind {
                Some(k @ (Kind::Container | Kind::ContainerSet | Kind::Script))
                    if from.path.is_none() =>
                {
                    Some(format!("path must be specified for {} templates", k.name()))
                }
                Some(Kind::Resource) if from.jq_filter.is_none() && from.json_path.is_none() => {
                    Some("jqFilter or jsonPath must be specified for Resource templates".to_owned())
                }
                Some(k @ (Kind::Dag | Kind::Steps))
                    if from.parameter.is_none() && from.expression.is_none() =>
                {
                    Some(format!(
                        "parameter or expression must be specified for {} templates",
                        k.name()
                    ))
                }
                _ => None,
            };
            if let Some(message) = missing {
                self.push(&here, message);
            }
            if let Some(global) = &p.global_name
                && !global.contains("{{")
                && let Err(e) = NameRule::Param.check(global)
            {
                self.push(format!("{here}.globalName"), e);
            }
        }
    }

    /// Fields valid on some template types only, and their values.
    fn template_fields(&mut self, at: &str, t: &model::Template, kind: Option<Kind>) {
        let leaf = kind.is_some_and(Kind::is_leaf);
        let not_group = kind.is_some_and(Kind::is_not_group);
        let type_name = kind.map_or("unknown", Kind::name);
        if let Some(deadline) = &t.active_deadline_seconds {
            if kind.is_some() && !not_group {
                self.push(
                    format!("{at}.activeDeadlineSeconds"),
                    "is only valid for leaf templates",
                );
            } else {
                let valid = match deadline {
                    IntOrString::Int(i) => *i > 0,
                    IntOrString::String(s) => {
                        s.parse::<i64>().is_ok_and(|i| i > 0) || is_argo_variable(s)
                    }
                };
                if !valid {
                    self.push(
                        format!("{at}.activeDeadlineSeconds"),
                        "must be a positive integer > 0 or an argo variable",
                    );
                }
            }
        }
        if t.parallelism.is_some() && not_group {
            self.push(
                format!("{at}.parallelism"),
                "is only valid for steps and dag templates",
            );
        }
        if let Some(timeout) = &t.timeout {
            if kind.is_some() && !leaf {
                self.push(
                    format!("{at}.timeout"),
                    format!("{type_name} template doesn't support timeout field"),
                );
            } else if timeout.parse::<i64>().is_ok() {
                self.push(
                    format!("{at}.timeout"),
                    "has invalid duration format in timeout",
                );
            }
        }
        if t.pending_timeout.is_some() && kind.is_some() && !leaf {
            self.push(
                format!("{at}.pendingTimeout"),
                format!("{type_name} template doesn't support pendingTimeout field"),
            );
        }
        if let Some(retry) = &t.retry_strategy {
            self.retry(&format!("{at}.retryStrategy"), retry);
        }
        if let Some(memoize) = &t.memoize {
            self.memoize(&format!("{at}.memoize"), memoize);
        }
        if let Some(metrics) = &t.metrics {
            for (i, metric) in metrics.prometheus.iter().enumerate() {
                let here = format!("{at}.metrics.prometheus[{i}]");
                if !is_metric_name(&metric.name) {
                    self.push(&here, format!("metric name '{}' is invalid. Metric names must contain alphanumeric characters or '_'", metric.name));
                }
                if metric.help.is_empty() {
                    self.push(
                        &here,
                        format!(
                            "metric '{}' must contain a help string under 'help: ' field",
                            metric.name
                        ),
                    );
                }
            }
        }
    }

    fn retry(&mut self, at: &str, retry: &model::RetryStrategy) {
        if let Some(policy) = &retry.retry_policy
            && !matches!(
                policy.as_str(),
                "" | "Always" | "OnError" | "OnFailure" | "OnTransientError"
            )
        {
            self.push(
                format!("{at}.retryPolicy"),
                format!("{policy} is not a valid RetryPolicy"),
            );
        }
        match &retry.limit {
            Some(IntOrString::Int(i)) if *i < 0 => {
                self.push(format!("{at}.limit"), "must not be negative");
            }
            Some(IntOrString::String(s))
                if !is_argo_variable(s) && !s.parse::<i64>().is_ok_and(|i| i >= 0) =>
            {
                self.push(format!("{at}.limit"), format!("'{s}' is not a number"));
            }
            _ => {}
        }
        if let Some(backoff) = &retry.backoff {
            for (field, value) in [
                ("duration", &backoff.duration),
                ("maxDuration", &backoff.max_duration),
                ("cap", &backoff.cap),
            ] {
                if let Some(text) = value
                    && !is_argo_variable(text)
                    && let Err(e) = cron::seconds_or_go_duration(text)
                {
                    self.push(format!("{at}.backoff.{field}"), e);
                }
            }
            if let Some(IntOrString::Int(factor)) = &backoff.factor
                && *factor < 1
            {
                self.push(format!("{at}.backoff.factor"), "must be at least 1");
            }
        }
    }

    fn memoize(&mut self, at: &str, memoize: &model::Memoize) {
        if !memoize.max_age.is_empty()
            && let Err(e) = go_duration(&memoize.max_age)
        {
            self.push(format!("{at}.maxAge"), e);
        }
        let name = &memoize.cache.config_map.name;
        if !is_dns_subdomain(name) {
            self.push(
                format!("{at}.cache.configMap.name"),
                format!("'{name}' is not a valid ConfigMap name"),
            );
        }
        // Argo stores entries under the key as written once variables are replaced: a
        // ConfigMap key Argo accepts only as `^[a-zA-Z0-9][-a-zA-Z0-9]*$`.
        let literal = strip_tags(&memoize.key);
        if memoize.key.is_empty() {
            self.push(format!("{at}.key"), "is required");
        } else if !literal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
            || literal.starts_with('-')
        {
            self.push(
                format!("{at}.key"),
                format!(
                    "'{}' cannot be a cache key: outside {{{{...}}}} only letters, digits and '-' are allowed, not starting with '-'",
                    memoize.key
                ),
            );
        }
    }

    /// Scheduling and pod settings Kubernetes validates when it creates the pod.
    fn pod_settings(&mut self, at: &str, t: &model::Template) {
        if let Some(selector) = &t.node_selector {
            self.labels(&format!("{at}.nodeSelector"), selector);
        }
        if let Some(labels) = t.metadata.as_ref().and_then(|m| m.labels.as_ref()) {
            self.labels(&format!("{at}.metadata.labels"), labels);
        }
        for (i, toleration) in t.tolerations.iter().flatten().enumerate() {
            self.toleration(&format!("{at}.tolerations[{i}]"), toleration);
        }
        if let Some(account) = &t.service_account_name
            && !is_dns_subdomain(account)
        {
            self.push(
                format!("{at}.serviceAccountName"),
                format!("'{account}' is not a valid service account name"),
            );
        }
        let volumes: Vec<&str> = t
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        self.names(at, ".volumes", volumes.iter().copied(), NameRule::DnsLabel);
    }

    fn toleration(&mut self, at: &str, t: &corev1::Toleration) {
        match t.operator.as_deref() {
            None | Some("Equal") => {
                if t.key.as_deref().unwrap_or_default().is_empty() {
                    self.push(at, "operator must be Exists when key is empty");
                }
            }
            Some("Exists") => {
                if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                    self.push(at, "value must be empty when operator is Exists");
                }
            }
            Some(other) => self.push(at, format!("operator '{other}' is not Equal or Exists")),
        }
        match t.effect.as_deref() {
            None | Some("" | "NoSchedule" | "PreferNoSchedule" | "NoExecute") => {}
            Some(other) => self.push(
                at,
                format!("effect '{other}' is not NoSchedule, PreferNoSchedule or NoExecute"),
            ),
        }
        if t.toleration_seconds.is_some() && t.effect.as_deref() != Some("NoExecute") {
            self.push(at, "effect must be NoExecute when tolerationSeconds is set");
        }
    }

    /// A container, script, resource, ... template.
    fn leaf(&mut self, at: &str, t: &model::Template, scope: &Scope) {
        self.resolve_all(
            at,
            &serde_json::to_value(t).unwrap_or_default(),
            &[scope],
            None,
        );
        let input_artifacts = t
            .inputs
            .as_ref()
            .and_then(|i| i.artifacts.as_deref())
            .unwrap_or_default();
        let template_volumes: HashSet<&str> = t
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        if let Some(container) = &t.container {
            let mut mounted: HashMap<&str, String> = HashMap::new();
            for (i, mount) in container.volume_mounts.iter().flatten().enumerate() {
                if let Some(previous) = mounted.get(mount.mount_path.as_str()) {
                    self.push(
                        format!("{at}.container.volumeMounts[{i}].mountPath"),
                        format!("'{}' already mounted in {previous}", mount.mount_path),
                    );
                }
                mounted.insert(
                    &mount.mount_path,
                    format!("container.volumeMounts.{}", mount.name),
                );
                if !template_volumes.contains(mount.name.as_str())
                    && !self.workflow_volumes.contains(&mount.name)
                {
                    self.push(
                        format!("{at}.container.volumeMounts[{i}].name"),
                        format!(
                            "'{}' is not a volume of the template or the workflow",
                            mount.name
                        ),
                    );
                }
            }
            for (i, artifact) in input_artifacts.iter().enumerate() {
                let Some(path) = artifact.path.as_deref() else {
                    continue;
                };
                if let Some(previous) = mounted.get(path) {
                    self.push(
                        format!("{at}.inputs.artifacts[{i}].path"),
                        format!("'{path}' already mounted in {previous}"),
                    );
                }
                mounted.insert(path, format!("inputs.artifacts.{}", artifact.name));
            }
            if container.image.as_deref().unwrap_or_default().is_empty()
                && !self.default_container_image
            {
                self.push(format!("{at}.container.image"), "may not be empty");
            }
            if is_reserved_container(&container.name) {
                self.push(
                    format!("{at}.container.name"),
                    format!("\"{}\" is a reserved Argo container name", container.name),
                );
            }
            for (i, env) in container.env.iter().flatten().enumerate() {
                if env.name.is_empty() || env.name.contains('=') {
                    self.push(
                        format!("{at}.container.env[{i}].name"),
                        format!("'{}' is not a valid environment variable name", env.name),
                    );
                }
            }
        }
        if let Some(set) = &t.container_set {
            let io = !input_artifacts.is_empty()
                || t.outputs.as_ref().is_some_and(|o| {
                    o.parameters.as_ref().is_some_and(|p| !p.is_empty())
                        || o.artifacts.as_ref().is_some_and(|a| !a.is_empty())
                });
            if io && !set.containers.iter().any(|c| c.name == "main") {
                self.push(
                    format!("{at}.containerSet.containers"),
                    "must have a container named \"main\" for input or output",
                );
            }
            for c in &set.containers {
                if is_reserved_container(&c.name) {
                    self.push(
                        format!("{at}.containerSet.containers"),
                        format!("\"{}\" is a reserved Argo container name", c.name),
                    );
                }
            }
        }
        for s in t.sidecars.iter().flatten() {
            if is_reserved_container(&s.name) {
                self.push(
                    format!("{at}.sidecars"),
                    format!("\"{}\" is a reserved Argo container name", s.name),
                );
            }
        }
        for c in t.init_containers.iter().flatten() {
            if c.name.is_empty() {
                self.push(
                    format!("{at}.initContainers"),
                    "initContainers must all have container name",
                );
            }
        }
        if let Some(script) = &t.script
            && script.image.is_empty()
            && !self.default_script_image
        {
            self.push(format!("{at}.script.image"), "may not be empty");
        }
        if let Some(resource) = &t.resource {
            self.resource(at, t, resource);
        }
    }

    fn resource(&mut self, at: &str, t: &model::Template, r: &model::ResourceTemplate) {
        let action = r.action.as_str();
        if !is_argo_variable(action)
            && !matches!(
                action,
                "get" | "create" | "apply" | "delete" | "replace" | "patch"
            )
        {
            self.push(
                format!("{at}.resource.action"),
                "must be one of: get, create, apply, delete, replace, patch",
            );
        }
        if action == "delete" || action == "get" {
            return;
        }
        match (&r.manifest, &r.manifest_from) {
            (None, None) => self.push(
                format!("{at}.resource"),
                "either manifest or manifestFrom must be specified",
            ),
            (Some(_), Some(_)) => self.push(
                format!("{at}.resource"),
                "shouldn't have both `manifest` and `manifestFrom` specified in `Manifest` for resource template",
            ),
            (Some(manifest), None) => {
                let replaced = replace_expressions(manifest);
                if !is_argo_variable(manifest)
                    && serde_saphyr::from_str::<serde_json::Value>(&replaced).is_err()
                {
                    self.push(format!("{at}.resource.manifest"), "must be a valid yaml");
                }
            }
            (None, Some(from)) => {
                let known = t
                    .inputs
                    .as_ref()
                    .and_then(|i| i.artifacts.as_ref())
                    .is_some_and(|a| a.iter().any(|a| a.name == from.artifact.name));
                if !known {
                    self.push(
                        format!("{at}.resource.manifestFrom"),
                        format!("artifact {} in `manifestFrom` refer to a non-exist artifact", from.artifact.name),
                    );
                }
            }
        }
    }

    /// What a task or step runs: a template of this workflow, a templateRef or an inline one.
    fn reference(
        &mut self,
        at: &str,
        template: Option<&str>,
        template_ref: Option<&model::TemplateRef>,
        inline: Option<&'a model::Template>,
    ) -> Reference<'a> {
        match (template, template_ref, inline) {
            (Some(name), None, None) => match self.templates.get(name) {
                Some(t) => Reference::Found(t),
                None => {
                    self.push(at, format!("template name '{name}' undefined"));
                    Reference::Missing
                }
            },
            (None, Some(r), None) => {
                if r.name.as_deref().unwrap_or_default().is_empty() {
                    self.push(at, "resource name is required");
                }
                if r.template.as_deref().unwrap_or_default().is_empty() {
                    self.push(at, "template name is required");
                }
                Reference::Elsewhere
            }
            (None, None, Some(t)) => {
                self.template(t);
                Reference::Found(t)
            }
            (Some(_), Some(_), _) => {
                self.push(at, "template name cannot be specified with templateRef");
                Reference::Missing
            }
            (None, None, None) => {
                self.push(at, "a template, templateRef or inline template is required");
                Reference::Missing
            }
            _ => {
                self.push(
                    at,
                    "only one of template, templateRef and inline may be set",
                );
                Reference::Missing
            }
        }
    }

    fn dag(&mut self, at: &str, t: &model::Template, dag: &'a model::DAGTemplate, base: &Scope) {
        if dag.tasks.is_empty() {
            self.push(at, "must have at least one task");
            return;
        }
        let tasks = &dag.tasks;
        self.names(
            at,
            ".tasks",
            tasks.iter().map(|task| task.name.as_str()),
            NameRule::Field,
        );
        // Tasks by position: one hash map, vectors for the rest (a DAG can be large).
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(tasks.len());
        for (i, task) in tasks.iter().enumerate() {
            index.entry(task.name.as_str()).or_insert(i);
        }
        let using_depends = tasks.iter().any(|task| task.depends.is_some());
        let using_dependencies = tasks
            .iter()
            .any(|task| task.dependencies.as_ref().is_some_and(|d| !d.is_empty()));
        if using_depends && using_dependencies {
            self.push(
                at,
                "cannot use both 'depends' and 'dependencies' in the same DAG template",
            );
        }
        let looped: Vec<bool> = tasks
            .iter()
            .map(|task| {
                is_looped(
                    task.with_items.as_ref(),
                    task.with_param.as_ref(),
                    task.with_sequence.is_some(),
                )
            })
            .collect();
        // Direct dependencies of each task, and what it runs.
        let mut deps: Vec<Vec<usize>> = Vec::with_capacity(tasks.len());
        let mut refs: Vec<Reference<'a>> = Vec::with_capacity(tasks.len());
        for task in tasks {
            let here = || format!("{at}.tasks.{}", task.name);
            let own_deps = task.dependencies.as_ref().is_some_and(|d| !d.is_empty());
            if (using_depends || own_deps) && task.name.starts_with(|c: char| c.is_ascii_digit()) {
                self.push(
                    here(),
                    "name cannot begin with a digit when using either 'depends' or 'dependencies'",
                );
            }
            if using_depends && task.continue_on.is_some() {
                self.push(here(), "cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'");
            }
            let mut names: Vec<&str> = Vec::new();
            if let Some(depends) = &task.depends {
                for (dep, result) in depends_terms(depends) {
                    if let Some(result) = result {
                        if !TASK_RESULTS.contains(&result) {
                            self.push(
                                here(),
                                format!("task result '{result}' for task '{dep}' is invalid"),
                            );
                        }
                        if matches!(result, "AnySucceeded" | "AllFailed")
                            && index.get(dep).is_some_and(|&i| !looped[i])
                        {
                            self.push(here(), format!("dependency '{dep}' uses an items-based condition such as .AnySucceeded or .AllFailed but does not contain any items"));
                        }
                    }
                    if !names.contains(&dep) {
                        names.push(dep);
                    }
                }
            }
            for dep in task.dependencies.iter().flatten() {
                if !names.contains(&dep.as_str()) {
                    names.push(dep);
                }
            }
            let mut direct = Vec::with_capacity(names.len());
            for dep in names {
                match index.get(dep) {
                    Some(&i) => direct.push(i),
                    None => self.push(here(), format!("dependency '{dep}' not defined")),
                }
            }
            deps.push(direct);
            let reference = self.reference(
                &here(),
                task.template.as_deref(),
                task.template_ref.as_ref(),
                task.inline.as_deref(),
            );
            refs.push(reference);
        }
        if let Some(cycle) = find_cycle(&deps) {
            let names: Vec<&str> = cycle.iter().map(|&i| tasks[i].name.as_str()).collect();
            self.push(
                format!("{at}.tasks"),
                format!("dependency cycle detected: {}", names.join("->")),
            );
        }
        if let Some(target) = &dag.target {
            for name in target.split(' ').filter(|n| !n.is_empty()) {
                if !is_argo_variable(name) && !index.contains_key(name) {
                    self.push(
                        format!("{at}.targets"),
                        format!("target '{name}' is not defined"),
                    );
                }
            }
        }
        let mut nodes = Nodes {
            index: &index,
            deps: &deps,
            refs: &refs,
            looped: &looped,
            reader: None,
        };
        for (i, task) in tasks.iter().enumerate() {
            let here = || format!("{at}.tasks.{}", task.name);
            let mut local = Scope::default();
            if task.hooks.is_some() {
                local.add(format!("tasks.{}.status", task.name));
            }
            self.loop_items(
                &here,
                task.with_items.as_deref(),
                task.with_param.as_deref(),
                task.with_sequence.as_ref(),
                &mut local,
            );
            // A task reads only tasks it waits for (Argo checks this for arguments).
            nodes.reader = Some(i);
            self.resolve_strings(
                &here,
                &mut |f| task_strings(task, f),
                &[base, &local],
                Some(&nodes),
            );
            let args = task.arguments.as_ref().unwrap_or(&NO_ARGUMENTS);
            self.arguments(&|| format!("{}.arguments", here()), args, false);
            if let Reference::Found(target) = refs[i] {
                self.supplied(&here, target, args, false);
            }
            for (name, hook) in task.hooks.iter().flatten() {
                let at = format!("{}.hooks.{name}", here());
                self.hook(&at, name, hook, &[base, &local], Some(&nodes));
            }
            if let Some(exit) = task.on_exit.as_deref()
                && !self.templates.contains_key(exit)
            {
                self.push(
                    format!("{}.onExit", here()),
                    format!("template name '{exit}' undefined"),
                );
            }
        }
        // The DAG's outputs may read any task.
        if let Some(outputs) = &t.outputs {
            nodes.reader = None;
            self.resolve_all(
                &format!("{at}.outputs"),
                &serde_json::to_value(outputs).unwrap_or_default(),
                &[base],
                Some(&nodes),
            );
        }
    }

    fn steps(&mut self, at: &str, t: &'a model::Template, base: &Scope) {
        let groups = t.steps.as_deref().unwrap_or_default();
        let mut scope = base.clone();
        let mut seen = HashSet::new();
        for (i, group) in groups.iter().enumerate() {
            for step in &group.0 {
                let name = step.name.as_deref().unwrap_or_default();
                let here = format!("{at}.steps[{i}].{name}");
                if name.is_empty() {
                    self.push(format!("{at}.steps[{i}].name"), "is required");
                    continue;
                }
                if !seen.insert(name.to_owned()) {
                    self.push(
                        format!("{at}.steps[{i}].name"),
                        format!("'{name}' is not unique"),
                    );
                }
                if let Err(e) = NameRule::Field.check(name) {
                    self.push(
                        format!("{at}.steps[{i}].name"),
                        format!("'{name}' is invalid: {e}"),
                    );
                }
                let reference = self.reference(
                    &here,
                    step.template.as_deref(),
                    step.template_ref.as_ref(),
                    step.inline.as_deref(),
                );
                let mut local = Scope::default();
                local.add(format!("steps.{name}.status"));
                self.loop_items(
                    &|| here.clone(),
                    step.with_items.as_deref(),
                    step.with_param.as_deref(),
                    step.with_sequence.as_ref(),
                    &mut local,
                );
                let value = serde_json::to_value(step).unwrap_or_default();
                self.resolve_all(&here, &value, &[&scope, &local], None);
                let args = step.arguments.clone().unwrap_or_default();
                self.arguments(&|| format!("{here}.arguments"), &args, false);
                if let Reference::Found(target) = &reference {
                    self.supplied(&|| here.clone(), target, &args, false);
                }
                for (hook_name, hook) in step.hooks.iter().flatten() {
                    self.hook(
                        &format!("{here}.hooks.{hook_name}"),
                        hook_name,
                        hook,
                        &[&scope, &local],
                        None,
                    );
                }
                // Later steps may read this one (Argo adds it to the scope as it goes).
                let looped = is_looped(
                    step.with_items.as_ref(),
                    step.with_param.as_ref(),
                    step.with_sequence.is_some(),
                );
                node_refs(&mut scope, "steps", name, Some(&reference), looped, false);
                scope.add(format!("steps.{name}.status"));
            }
        }
    }

    /// The loop variables of a task or step (`addItemsToScope`).
    fn loop_items(
        &mut self,
        at: At,
        items: Option<&[model::Item]>,
        param: Option<&str>,
        sequence: Option<&model::Sequence>,
        scope: &mut Scope,
    ) {
        let items = items.filter(|i| !i.is_empty());
        let param = param.filter(|p| !p.is_empty());
        let defined = [items.is_some(), param.is_some(), sequence.is_some()]
            .into_iter()
            .filter(|d| *d)
            .count();
        if defined > 1 {
            self.push(
                at(),
                "only one of withItems, withParam, withSequence can be specified",
            );
        }
        if let Some(items) = items {
            for item in items {
                match &item.0 {
                    serde_json::Value::Object(map) => {
                        for key in map.keys() {
                            scope.add(format!("item.{key}"));
                        }
                    }
                    serde_json::Value::Array(list) => {
                        for i in 0..list.len() {
                            scope.add(format!("item.[{i}]"));
                        }
                    }
                    serde_json::Value::Null => {
                        self.push(at(), "unsupported withItems type: null");
                    }
                    _ => scope.add("item"),
                }
            }
        } else if param.is_some() {
            scope.add("item");
            scope.any_item = true;
        } else if let Some(sequence) = sequence {
            if sequence.count.is_some() && sequence.end.is_some() {
                self.push(
                    at(),
                    "only one of count or end can be defined in withSequence",
                );
            }
            scope.add("item");
        }
    }
}

/// What a task or step runs.
#[derive(Clone, Copy)]
enum Reference<'a> {
    /// A template this linter can see.
    Found(&'a model::Template),
    /// A template of another resource (`templateRef`): its outputs cannot be checked.
    Elsewhere,
    /// None (an error was reported).
    Missing,
}

/// Adds the variables of node `name` (a task or step) to `scope`.
fn node_refs(
    scope: &mut Scope,
    prefix: &str,
    name: &str,
    reference: Option<&Reference>,
    looped: bool,
    ancestor: bool,
) {
    let node = format!("{prefix}.{name}");
    for field in ["id", "startedAt", "finishedAt", "hostNodeName"] {
        scope.add(format!("{node}.{field}"));
    }
    if ancestor {
        scope.add(format!("{node}.status"));
    }
    let template = match reference {
        Some(Reference::Found(t)) => *t,
        _ => {
            scope.prefixes.push(format!("{node}."));
            return;
        }
    };
    if template.daemon == Some(true) {
        scope.add(format!("{node}.ip"));
    }
    if has_output(template) {
        scope.add(format!("{node}.outputs.result"));
        scope.add(format!("{node}.exitCode"));
    }
    let outputs = template.outputs.as_ref();
    for p in outputs
        .and_then(|o| o.parameters.as_deref())
        .unwrap_or_default()
    {
        scope.add(format!("{node}.outputs.parameters.{}", p.name));
    }
    for a in outputs
        .and_then(|o| o.artifacts.as_deref())
        .unwrap_or_default()
    {
        scope.add(format!("{node}.outputs.artifacts.{}", a.name));
    }
    if looped {
        scope.add(format!("{node}.outputs.parameters"));
        if matches!(kind_of(template), Some(Kind::Script | Kind::ContainerSet)) {
            scope.add(format!("{node}.outputs.result"));
            scope.add(format!("{node}.exitCode"));
        }
    }
}

fn is_looped(items: Option<&Vec<model::Item>>, param: Option<&String>, sequence: bool) -> bool {
    items.is_some_and(|i| !i.is_empty()) || param.is_some_and(|p| !p.is_empty()) || sequence
}

/// The results a `depends` expression may test.
const TASK_RESULTS: [&str; 8] = [
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
];

/// The task names in a `depends` expression, each with its result if one is tested:
/// `(a.Succeeded || a.Skipped) && !b.Failed && c` → `a Succeeded`, `a Skipped`, `b Failed`,
/// `c`. Read as Argo reads it: a name is `[a-zA-Z0-9][-a-zA-Z0-9]*`, a result a `.` and a
/// capitalised word after it; anything else separates names.
fn depends_terms(depends: &str) -> Vec<(&str, Option<&str>)> {
    let bytes = depends.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let mut terms = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let name = &depends[start..i];
        let mut result = None;
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_uppercase) {
            let mut j = i + 2;
            while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                j += 1;
            }
            if j > i + 2 {
                result = Some(&depends[i + 1..j]);
                i = j;
            }
        }
        terms.push((name, result));
    }
    terms
}

/// The tasks of a DAG, as `{{tasks.NAME...}}` variables see them (by position).
struct Nodes<'s, 'a> {
    /// Positions by name.
    index: &'s HashMap<&'s str, usize>,
    /// Each task's direct dependencies.
    deps: &'s [Vec<usize>],
    /// What each task runs.
    refs: &'s [Reference<'a>],
    /// Whether each task loops (its outputs are then lists).
    looped: &'s [bool],
    /// The task whose fields are read: it may use only tasks it waits for. None: any task
    /// (the DAG's outputs).
    reader: Option<usize>,
}

impl Nodes<'_, '_> {
    /// The verdict on a `{{tasks.NAME...}}` tag naming another task of the DAG; None for
    /// other tags.
    fn resolve(&self, tag: &str) -> Option<Result<(), String>> {
        let rest = tag.trim().strip_prefix("tasks.")?;
        let (other, field) = rest.split_once('.').unwrap_or((rest, ""));
        let &target = self.index.get(other)?;
        if Some(target) == self.reader {
            return None;
        }
        if let Some(reader) = self.reader
            && !depends_on(reader, target, self.deps)
        {
            return Some(Err(format!(
                "missing dependency '{other}' for {{{{{tag}}}}}"
            )));
        }
        Some(
            if node_offers(field, &self.refs[target], self.looped[target]) {
                Ok(())
            } else {
                Err(format!("failed to resolve {{{{{tag}}}}}"))
            },
        )
    }
}

/// Whether `task` waits for `target`, directly or through other tasks (a search that stops
/// when found: tasks usually read their direct dependencies).
fn depends_on(task: usize, target: usize, deps: &[Vec<usize>]) -> bool {
    if deps[task].contains(&target) {
        return true;
    }
    let mut seen = vec![false; deps.len()];
    let mut todo: Vec<usize> = deps[task].clone();
    while let Some(next) = todo.pop() {
        if next == target {
            return true;
        }
        if !std::mem::replace(&mut seen[next], true) {
            todo.extend(&deps[next]);
        }
    }
    false
}

/// Whether a task (or step) running `reference` has variable `field` (`outputs.result`,
/// `outputs.parameters.y`, `status`, ...); `looped`: its outputs are collected lists.
fn node_offers(field: &str, reference: &Reference, looped: bool) -> bool {
    if matches!(
        field,
        "id" | "startedAt" | "finishedAt" | "hostNodeName" | "status"
    ) {
        return true;
    }
    // A template elsewhere (`templateRef`) or missing: nothing more can be said.
    let Reference::Found(t) = reference else {
        return true;
    };
    let outputs = t.outputs.as_ref();
    match field {
        "ip" => t.daemon == Some(true),
        "outputs.result" | "exitCode" => {
            has_output(t)
                || (looped && matches!(kind_of(t), Some(Kind::Script | Kind::ContainerSet)))
        }
        "outputs.parameters" => looped,
        _ => {
            if let Some(name) = field.strip_prefix("outputs.parameters.") {
                outputs
                    .and_then(|o| o.parameters.as_deref())
                    .is_some_and(|ps| ps.iter().any(|p| p.name == name))
            } else if let Some(name) = field.strip_prefix("outputs.artifacts.") {
                outputs
                    .and_then(|o| o.artifacts.as_deref())
                    .is_some_and(|arts| arts.iter().any(|a| a.name == name))
            } else {
                false
            }
        }
    }
}

/// A dependency cycle, as a path of positions ending where it started.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    // Depth-first, with an explicit stack (a chain of DAG tasks can be thousands deep):
    // each entry is a task and how many of its dependencies were visited.
    let mut marks = vec![Mark::New; deps.len()];
    for root in 0..deps.len() {
        if marks[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::Open;
        while let Some((node, next)) = stack.last_mut() {
            match deps[*node].get(*next) {
                None => {
                    marks[*node] = Mark::Done;
                    stack.pop();
                }
                Some(&dep) => {
                    *next += 1;
                    match marks[dep] {
                        Mark::Done => {}
                        Mark::Open => {
                            let start = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                stack[start..].iter().map(|(n, _)| *n).collect();
                            cycle.push(dep);
                            return Some(cycle);
                        }
                        Mark::New => {
                            marks[dep] = Mark::Open;
                            stack.push((dep, 0));
                        }
                    }
                }
            }
        }
    }
    None
}

/// Calls `f` with every string (and key) of `value`.
fn walk_strings(value: &serde_json::Value, f: &mut dyn FnMut(&str)) {
    match value {
        serde_json::Value::String(text) => f(text),
        serde_json::Value::Array(items) => items.iter().for_each(|v| walk_strings(v, f)),
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                f(key);
                walk_strings(v, f);
            }
        }
        _ => {}
    }
}

/// Calls `f` with every string of a DAG task, as Argo's check of the task's JSON sees them
/// (read field by field: a DAG can have thousands of tasks).
fn task_strings(task: &model::DAGTask, f: &mut dyn FnMut(&str)) {
    let mut opt = |text: &Option<String>| {
        if let Some(text) = text {
            f(text);
        }
    };
    opt(&task.template);
    opt(&task.depends);
    opt(&task.when);
    opt(&task.with_param);
    opt(&task.on_exit);
    f(&task.name);
    for dependency in task.dependencies.iter().flatten() {
        f(dependency);
    }
    if let Some(args) = &task.arguments {
        for p in args.parameters.iter().flatten() {
            f(&p.name);
            for text in [&p.value, &p.default, &p.description, &p.global_name]
                .into_iter()
                .flatten()
            {
                f(text);
            }
            for option in p.r#enum.iter().flatten() {
                f(option);
            }
            if let Some(from) = &p.value_from {
                walk_strings(&serde_json::to_value(from).unwrap_or_default(), f);
            }
        }
        for a in args.artifacts.iter().flatten() {
            if has_location(a) || a.archive.is_some() || a.artifact_gc.is_some() {
                walk_strings(&serde_json::to_value(a).unwrap_or_default(), f);
                continue;
            }
            f(&a.name);
            for text in [
                &a.from,
                &a.from_expression,
                &a.path,
                &a.sub_path,
                &a.global_name,
            ]
            .into_iter()
            .flatten()
            {
                f(text);
            }
        }
    }
    for item in task.with_items.iter().flatten() {
        walk_strings(&item.0, f);
    }
    let rare = (
        &task.template_ref,
        &task.with_sequence,
        &task.hooks,
        &task.inline,
    );
    if rare.0.is_some() || rare.1.is_some() || rare.2.is_some() || rare.3.is_some() {
        walk_strings(&serde_json::to_value(rare).unwrap_or_default(), f);
    }
}

/// Calls `f` with each `{{...}}` tag of `text`; an unclosed `{{` is an error, as in Argo.
fn for_each_tag<'t>(text: &'t str, mut f: impl FnMut(&'t str)) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = find_pair(rest, b'{') {
        let after = &rest[start + 2..];
        let Some(end) = find_pair(after, b'}') else {
            return Err(format!("cannot find end tag \"}}}}\" in \"{text}\""));
        };
        f(&after[..end]);
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Where `cc` (two bytes `c`) first occurs in `text` (a byte search: most strings have none).
fn find_pair(text: &str, c: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == c) {
        let at = from + i;
        if bytes.get(at + 1) == Some(&c) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `text` without its `{{...}}` tags.
fn strip_tags(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `{{= ... }}` expressions replaced by a placeholder (so a manifest can be parsed as YAML).
fn replace_expressions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("placeholder");
                rest = &rest[start + end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether the text is (or holds) an Argo variable, so its value is known only at run time.
fn is_argo_variable(text: &str) -> bool {
    text.contains("{{") && text.contains("}}")
}

fn has_location(a: &model::Artifact) -> bool {
    a.raw.is_some()
        || a.s3.is_some()
        || a.gcs.is_some()
        || a.git.is_some()
        || a.http.is_some()
        || a.artifactory.is_some()
        || a.hdfs.is_some()
        || a.oss.is_some()
        || a.azure.is_some()
        || a.plugin.is_some()
}

fn is_reserved_container(name: &str) -> bool {
    name == "wait" || name == "supervisor" || name.starts_with("artifact-plugin-")
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Name rules of Argo lists.
#[derive(Clone, Copy)]
enum NameRule {
    /// Templates, tasks, steps: `[a-zA-Z0-9][-a-zA-Z0-9]*`, at most 128.
    Field,
    /// Parameters, artifacts: `[-a-zA-Z0-9_]+`.
    Param,
    /// Kubernetes volumes and claims: a DNS label.
    DnsLabel,
}

impl NameRule {
    fn check(self, name: &str) -> Result<(), String> {
        match self {
            NameRule::Field => {
                let mut problems = Vec::new();
                if name.len() > MAX_FIELD_NAME {
                    problems.push(format!("must be no more than {MAX_FIELD_NAME} characters"));
                }
                let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !valid {
                    problems.push("name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)".to_owned());
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join(";"))
                }
            }
            NameRule::Param => {
                if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    Ok(())
                } else {
                    Err("Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1".into())
                }
            }
            NameRule::DnsLabel => {
                if is_dns_label(name) {
                    Ok(())
                } else {
                    Err("must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit".into())
                }
            }
        }
    }
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters (letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit).
fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err(format!(
            "label key '{key}': the prefix must be a DNS subdomain"
        ));
    }
    if name.is_empty() || !is_label_name(name) {
        return Err(format!(
            "label key '{key}' is invalid: a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(format!(
            "label value '{value}' is invalid: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        ))
    }
}

fn is_label_name(text: &str) -> bool {
    text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests;
