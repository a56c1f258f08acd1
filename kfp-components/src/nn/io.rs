//! Saving and loading a model: `model.json` (the [`ModelSpec`], pretty-printed) beside
//! `model.safetensors` (every tensor of [`ModelSpec::param_shapes`] as little-endian `f32`,
//! named `<layer>.<role>`, BatchNorm running statistics included).
//!
//! Both files are written atomically (a temporary file in the same folder, synced, then
//! renamed), so a reader never sees a half-written model. Loading checks every tensor's
//! presence, dtype and shape and names the file and the tensor when one is wrong; the round
//! trip is bit-identical.
//!
//! ```
//! use kfp_components::nn::{io, model::Model, zoo};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let model = Model::new(zoo::caltech_s(16, 3), 1).unwrap();
//! io::save_model(&model, dir.path()).unwrap();
//! let back = io::load_model(dir.path()).unwrap();
//! assert_eq!(back.weights(), model.weights());
//! ```
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::error::NnError;
use super::model::Model;
use super::spec::ModelSpec;

/// The architecture file's name inside a model folder.
pub const SPEC_FILE: &str = "model.json";
/// The weights file's name inside a model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and
/// synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(NnError::io(path, e));
    }
    Ok(())
}

/// Writes `dir/model.json` and `dir/model.safetensors` (creating `dir` if needed).
pub fn save_model(model: &Model, dir: &Path) -> Result<(), NnError> {
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
    let spec_path = dir.join(SPEC_FILE);
    let json = serde_json::to_vec_pretty(model.spec())
        .map_err(|e| NnError::format(&spec_path, e.to_string()))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .params()
        .into_iter()
        .map(|p| {
            let raw: Vec<u8> = p.value.iter().flat_map(|v| v.to_le_bytes()).collect();
            (p.name.clone(), p.value.shape().to_vec(), raw)
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, raw) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), raw)
            .map_err(|e| NnError::format(&weights_path, format!("tensor `{name}`: {e}")))?;
        views.push((name.as_str(), view));
    }
    let info = HashMap::from([
        ("format".to_string(), "kfp-rs".to_string()),
        ("architecture".to_string(), model.spec().name.clone()),
    ]);
    let st = safetensors::serialize(views, Some(info))
        .map_err(|e| NnError::format(&weights_path, e.to_string()))?;
    write_atomic(&weights_path, &st)?;
    write_atomic(&spec_path, &json)
}

/// Reads `dir/model.json` (a [`ModelSpec`]).
pub fn load_spec(dir: &Path) -> Result<ModelSpec, NnError> {
    let path = dir.join(SPEC_FILE);
    let text = std::fs::read(&path).map_err(|e| NnError::io(&path, e))?;
    let spec: ModelSpec =
        serde_json::from_slice(&text).map_err(|e| NnError::format(&path, e.to_string()))?;
    spec.infer_shapes()
        .map_err(|e| NnError::format(&path, e.to_string()))?;
    Ok(spec)
}

/// Reads every tensor of a safetensors file (all must be `f32`).
pub fn load_weights(path: &Path) -> Result<BTreeMap<String, ArrayD<f32>>, NnError> {
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| NnError::format(path, e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(NnError::format(
                path,
                format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let arr = ArrayD::from_shape_vec(view.shape().to_vec(), values)
            .map_err(|e| NnError::format(path, format!("tensor `{name}`: {e}")))?;
        out.insert(name, arr);
    }
    Ok(out)
}

/// Loads a model saved by [`save_model`]; errors name the file and the tensor.
pub fn load_model(dir: &Path) -> Result<Model, NnError> {
    let spec = load_spec(dir)?;
    let path: PathBuf = dir.join(WEIGHTS_FILE);
    let weights = load_weights(&path)?;
    Model::from_weights(spec, &weights).map_err(|e| NnError::format(&path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::model::Mode;
    use crate::nn::zoo;

    #[test]
    fn round_trip_is_bit_identical_including_running_stats() {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model::new(zoo::mobilenet(32, 4, 0.25), 9).unwrap();
        // Move the running statistics away from their initial values.
        let x = ndarray::Array4::from_shape_fn((2, 32, 32, 3), |(a, b, c, d)| {
            (a + 2 * b + 3 * c + d) as f32 * 0.01
        });
        model.forward(x.view(), Mode::Train).unwrap();
        save_model(&model, dir.path()).unwrap();
        let back = load_model(dir.path()).unwrap();
        assert_eq!(back.spec(), model.spec());
        let (a, b) = (model.weights(), back.weights());
        assert_eq!(a.len(), b.len());
        for (k, v) in &a {
            let bits = |t: &ArrayD<f32>| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(v), bits(&b[k]), "{k}");
        }
        assert!(a["bn1.running_mean"].iter().any(|v| *v != 0.0));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn bad_files_name_the_file_and_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let model = Model::new(zoo::caltech_s(16, 3), 1).unwrap();
        save_model(&model, dir.path()).unwrap();
        let wpath = dir.path().join(WEIGHTS_FILE);
        // A weights file missing one tensor.
        let mut w = model.weights();
        w.remove("bn3.running_var");
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = w
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.shape().to_vec(),
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views: Vec<(&str, TensorView<'_>)> = raw
            .iter()
            .map(|(k, s, b)| {
                (
                    k.as_str(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        std::fs::write(&wpath, safetensors::serialize(views, None).unwrap()).unwrap();
        let e = load_model(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors") && e.contains("bn3.running_var"),
            "{e}"
        );
        // A truncated file.
        save_model(&model, dir.path()).unwrap();
        let bytes = std::fs::read(&wpath).unwrap();
        std::fs::write(&wpath, &bytes[..bytes.len() - 10]).unwrap();
        let e = load_model(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.safetensors"), "{e}");
        // A broken spec.
        std::fs::write(dir.path().join(SPEC_FILE), b"{\"name\": 1}").unwrap();
        let e = load_model(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.json"), "{e}");
        // A missing folder.
        let e = load_model(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
