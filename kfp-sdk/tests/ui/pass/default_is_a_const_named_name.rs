// Should pass: a default taken from the user's own `const NAME`. Today it compiles but the
// default is the pipeline's name ("hello"), from the generated `hello::NAME`.
use kfp_sdk::prelude::*;

const NAME: &str = "world";

#[component]
fn say(who: String) {
    let _ = who;
}

#[pipeline]
fn hello(#[default(NAME)] who: String) {
    say::task(who);
}

fn main() {
    let graph = hello::graph().unwrap();
    assert_eq!(graph.inputs[0].default, Some(serde_json::json!("world")));
}
