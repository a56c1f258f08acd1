// A pipeline name that is not a DNS label.
use kfp_sdk::prelude::*;

#[pipeline(name = "Not_A_DNS_Label")]
fn training() {}

fn main() {}
