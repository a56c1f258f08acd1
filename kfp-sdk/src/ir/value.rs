//! Where a value in the pipeline graph comes from: a constant, a pipeline input, another
//! task's output, the loop item or the run's status. Both the graph's tasks and the control
//! flow (conditions, loops) refer to values this way.

/// Where the value of a task input (or a pipeline output) comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSource {
    /// A constant parameter value, stored as JSON.
    Constant(serde_json::Value),
    /// An input of the enclosing pipeline.
    PipelineInput(String),
    /// An output of another task of the same pipeline.
    TaskOutput {
        /// The producing task's name.
        task: String,
        /// The output's name on that task's component.
        output: String,
    },
    /// The current item of the loop the task is repeated over (see [`Task::repeat`](super::graph::Task::repeat)).
    LoopItem,
    /// The status of the whole run (`Succeeded`, `Failed` or `Error`), for exit handlers.
    WorkflowStatus,
}
