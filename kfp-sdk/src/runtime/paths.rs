//! The file layout inside a step: where the executor finds each input and writes each
//! output, relative to one root folder.
//!
//! In a container the root is [`CONTAINER_ROOT`] (`/tmp/kfp`, writable by any user): a
//! backend that places files for a step (the Argo compiler) writes them at
//! [`in_container`] paths, and `component-exec` reads them there without being told. The
//! local runner gives each task its own root (`component-exec NAME --root FOLDER`). The
//! functions return paths relative to the root, so both join them the same way.
//!
//! Parameter inputs and artifact inputs share the `in` folder (input names are unique), and
//! outputs the `out` folder. An artifact made by a Rust component is a folder holding the
//! payload as [`ARTIFACT_DATA`] (a file or a folder) and its metadata as
//! [`ARTIFACT_METADATA`], so the metadata travels with the artifact.
use std::path::{Path, PathBuf};

/// The root folder inside a step's container.
pub const CONTAINER_ROOT: &str = "/tmp/kfp";

/// The payload inside an artifact folder.
pub const ARTIFACT_DATA: &str = "data";

/// The metadata (a JSON object) inside an artifact folder.
pub const ARTIFACT_METADATA: &str = "metadata.json";

/// The file holding parameter input `name`, relative to the root.
pub fn param_input(name: &str) -> String {
    format!("in/{name}")
}

/// Where artifact input `name` is placed, relative to the root (a folder for an artifact of
/// a Rust component: see the module docs).
pub fn artifact_input(name: &str) -> String {
    format!("in/{name}")
}

/// Where parameter output `name` is written, relative to the root.
pub fn param_output(name: &str) -> String {
    format!("out/{name}")
}

/// Where artifact output `name` is written, relative to the root (a folder).
pub fn artifact_output(name: &str) -> String {
    format!("out/{name}")
}

/// A relative place at its absolute path inside a step's container:
/// `in_container(&param_input("x")) == "/tmp/kfp/in/x"`.
pub fn in_container(relative: &str) -> String {
    format!("{CONTAINER_ROOT}/{relative}")
}

/// A relative place under `root`.
pub fn under(root: &Path, relative: &str) -> PathBuf {
    root.join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_in_a_container_and_under_a_root() {
        assert_eq!(in_container(&param_input("x")), "/tmp/kfp/in/x");
        assert_eq!(
            in_container(&artifact_output("model")),
            "/tmp/kfp/out/model"
        );
        assert_eq!(
            under(Path::new("/work/task"), &param_output("y")),
            Path::new("/work/task/out/y")
        );
        // The default root of the executor is the container's: the same absolute paths.
        assert_eq!(
            under(Path::new(CONTAINER_ROOT), &artifact_input("data")),
            Path::new(&in_container(&artifact_input("data")))
        );
    }
}
