// An `async fn` component.
use kfp_sdk::prelude::*;

#[component]
async fn fetch(url: String) -> String {
    url
}

fn main() {}
