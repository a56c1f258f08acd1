//! [`TaskRef<O>`]: a task of the pipeline being built, with typed handles on its outputs, as
//! the generated `component::task(..)` returns it. Its settings are the methods of
//! [`super::setters`]; here are the ones only a task has (its name, what it waits for).
use super::TaskHandle;

/// A task with typed output handles, as the generated `component::task(..)` returns it.
///
/// The configuration methods take and return the task, so they chain:
/// `train::task(data, 10).retries(2).cpu_request("2").memory_limit("4Gi")`. The same
/// settings exist on [`ComponentSpec`](crate::ComponentSpec), as defaults for every task of
/// the component.
#[derive(Debug, Clone)]
pub struct TaskRef<O> {
    /// The task's outputs, one typed handle per output (`task.outputs.model`).
    pub outputs: O,
    handle: TaskHandle,
}

/// The former name of [`TaskRef`] (it collided with the graph's [`crate::graph::Task`]).
#[deprecated(note = "renamed to TaskRef")]
pub type Task<O> = TaskRef<O>;

impl<O> TaskRef<O> {
    /// Wraps a handle and its typed outputs (used by generated code).
    pub fn new(handle: TaskHandle, outputs: O) -> Self {
        TaskRef { outputs, handle }
    }

    /// The untyped handle.
    pub fn handle(&self) -> &TaskHandle {
        &self.handle
    }

    /// Names the task (by default: the component's name, made unique with `-2`, `-3`, ...).
    pub fn name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.handle.edit(|t| t.explicit_name = Some(name));
        self
    }

    /// Runs this task only after `other` has finished, although no value flows between them.
    pub fn after<P>(self, other: &TaskRef<P>) -> Self {
        let target = (other.handle.state.borrow().id, other.handle.index);
        self.handle.edit(|t| t.after.push(target));
        self
    }
}
