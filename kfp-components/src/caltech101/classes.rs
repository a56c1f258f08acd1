//! Classes: which class folders become labels, and in what order.
//!
//! The class list is the names of the class folders that hold images, **sorted by byte
//! order** (what Python's `sorted()` gives for these ASCII names), so the capitalised `Faces`,
//! `Faces_easy`, `Leopards` and `Motorbikes` come before `accordion`. The label of an image is
//! the index of its class in that list. `BACKGROUND_Google` (clutter, "not a real class") is
//! left out unless asked for. With the real archive this gives torchvision's
//! `Caltech101`: 101 classes, 8,677 images, `Faces` = 0, `accordion` = 5, `yin_yang` = 100.
//!
//! ```
//! use kfp_components::caltech101::classes::ClassSelection;
//!
//! let found = ["accordion", "BACKGROUND_Google", "Faces", "airplanes"];
//! let all = ClassSelection::default();
//! assert_eq!(all.resolve(found)?, ["Faces", "accordion", "airplanes"]);
//!
//! let with_background = ClassSelection { include_background: true, ..Default::default() };
//! assert_eq!(with_background.resolve(found)?, ["BACKGROUND_Google", "Faces", "accordion", "airplanes"]);
//!
//! let some = ClassSelection { only: vec!["airplanes".into(), "Faces".into()], ..Default::default() };
//! assert_eq!(some.resolve(found)?, ["Faces", "airplanes"]);
//! assert!(ClassSelection { only: vec!["zebra".into()], ..Default::default() }.resolve(found).is_err());
//! # Ok::<(), kfp_components::caltech101::Error>(())
//! ```
use std::collections::BTreeSet;

use super::error::Error;

/// The clutter folder of Caltech101, not a class by default.
pub const BACKGROUND_CLASS: &str = "BACKGROUND_Google";

/// Which classes to load.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassSelection {
    /// Keep `BACKGROUND_Google` as a class (default: left out, as torchvision does).
    pub include_background: bool,
    /// Only these classes (by folder name); empty means all. Naming `BACKGROUND_Google` here
    /// selects it even without `include_background`.
    pub only: Vec<String>,
}

impl ClassSelection {
    /// Whether images of the class folder `name` are wanted.
    pub fn wants(&self, name: &str) -> bool {
        if self.only.is_empty() {
            self.include_background || name != BACKGROUND_CLASS
        } else {
            self.only.iter().any(|c| c == name)
        }
    }

    /// The sorted class list from the names of the class folders that hold images. Fails when a
    /// class asked for by name is not among them.
    pub fn resolve<I, S>(&self, found: I) -> Result<Vec<String>, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let found: BTreeSet<String> = found.into_iter().map(|s| s.as_ref().to_owned()).collect();
        let missing: Vec<String> = self
            .only
            .iter()
            .filter(|name| !found.contains(name.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Error::UnknownClasses {
                names: missing,
                available: found.len(),
                examples: found
                    .iter()
                    .take(5)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // BTreeSet<String> iterates in byte order.
        Ok(found.into_iter().filter(|name| self.wants(name)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_puts_capitals_first() -> Result<(), Error> {
        let classes = ClassSelection::default().resolve([
            "yin_yang",
            "Motorbikes",
            "accordion",
            "Faces_easy",
            "Faces",
            "Leopards",
        ])?;
        assert_eq!(
            classes,
            [
                "Faces",
                "Faces_easy",
                "Leopards",
                "Motorbikes",
                "accordion",
                "yin_yang"
            ]
        );
        Ok(())
    }

    #[test]
    fn naming_the_background_selects_it() -> Result<(), Error> {
        let selection = ClassSelection {
            include_background: false,
            only: vec![BACKGROUND_CLASS.into()],
        };
        assert_eq!(
            selection.resolve([BACKGROUND_CLASS, "Faces"])?,
            [BACKGROUND_CLASS]
        );
        Ok(())
    }

    #[test]
    fn unknown_classes_are_all_named() {
        let selection = ClassSelection {
            include_background: false,
            only: vec!["zebra".into(), "Faces".into(), "unicorn".into()],
        };
        let message = selection
            .resolve(["Faces", "accordion"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("zebra, unicorn"), "{message}");
        assert!(message.contains("2 classes"), "{message}");
    }
}
