// Visibility: a `pub` component in a `pub mod` used from another module, and a private
// component returning a private output struct.
use kfp_sdk::prelude::*;

pub mod steps {
    use kfp_sdk::prelude::*;

    /// Adds two numbers.
    #[component(
        image = "rust:1.95",
        retries = 2,
        cpu_request = "500m",
        memory_limit = "1Gi",
        env(RUST_LOG = "info"),
        cache = false
    )]
    pub fn add(x: f64, y: f64) -> f64 {
        x + y
    }

    pub mod deeper {
        use kfp_sdk::prelude::*;

        #[component]
        pub(crate) fn double(x: f64) -> f64 {
            2.0 * x
        }
    }
}

mod pipelines {
    use kfp_sdk::prelude::*;

    use crate::steps;

    #[pipeline]
    pub fn sums(#[default(1.0)] a: f64) -> ParamRef<f64> {
        let first = steps::add::task(a, 2.0);
        let doubled = steps::deeper::double::task(&first.outputs.output);
        let task: kfp_sdk::Task<steps::add::Outputs> =
            steps::add::task(&doubled.outputs.output, 1.0);
        task.outputs.output.clone()
    }
}

#[derive(ComponentOutputs)]
struct Private {
    value: u32,
}

#[component]
fn private_step() -> Private {
    Private { value: 1 }
}

#[pipeline]
fn private_pipeline() -> ParamRef<u32> {
    private_step::task().outputs.value.clone()
}

fn main() {
    let graph = pipelines::sums::graph().unwrap();
    assert_eq!(graph.tasks.len(), 3);
    let spec = steps::add::spec();
    assert_eq!(spec.name, "add");
    assert_eq!(spec.description.as_deref(), Some("Adds two numbers."));
    assert_eq!(spec.image.as_deref(), Some("rust:1.95"));
    assert_eq!(spec.config.retry.as_ref().map(|r| r.limit), Some(2));
    assert_eq!(spec.config.resources.cpu_request.as_deref(), Some("500m"));
    assert_eq!(spec.config.env["RUST_LOG"], "info");
    assert_eq!(spec.config.caching, Some(false));
    let graph = private_pipeline::graph().unwrap();
    assert_eq!(graph.tasks[0].name, "private-step");
}
