//! Glue: the generated `aio:host/process` traits over [`child`](super::child).

use super::child::{ChildProcess, ExitStatus, Redirect, SpawnError, SpawnRequest};
use super::grant::RunRefusal;
use super::pipes::{PipeConsumer, PipeProducer};
use super::{ProcessView, Processes};
use crate::audit::CapabilityUse;
use crate::bindings::aio::host::process as wit;
use wasmtime::component::{Access, FutureReader, Resource, StreamReader};

impl From<wit::Redirect> for Redirect {
    fn from(r: wit::Redirect) -> Self {
        match r {
            wit::Redirect::Pipe => Redirect::Pipe,
            wit::Redirect::Null => Redirect::Null,
            wit::Redirect::Inherit => Redirect::Inherit,
            wit::Redirect::Stdout => Redirect::Stdout,
        }
    }
}

impl From<SpawnError> for wit::Error {
    fn from(e: SpawnError) -> Self {
        match e {
            SpawnError::NotFound => wit::Error::NotFound,
            SpawnError::ResourceLimit(m) => wit::Error::ResourceLimit(m),
            SpawnError::InvalidArgument(m) => wit::Error::InvalidArgument(m),
            SpawnError::Other(m) => wit::Error::Other(m),
        }
    }
}

impl From<ExitStatus> for wit::ExitStatus {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Exited(code) => wit::ExitStatus::Exited(code),
            ExitStatus::Killed(signal) => wit::ExitStatus::Killed(signal),
        }
    }
}

impl ProcessView<'_> {
    /// Starts `program` as `arg0`; `used` is the audit line of an allowed
    /// start (reported once it started).
    fn start(
        &mut self,
        used: CapabilityUse,
        program: std::path::PathBuf,
        arg0: String,
        args: Vec<String>,
        options: wit::Options,
    ) -> wasmtime::Result<Result<Resource<ChildProcess>, wit::Error>> {
        let request = SpawnRequest {
            program,
            arg0,
            args,
            env: options.env,
            cwd: options.cwd,
            stdin: options.stdin.into(),
            stdout: options.stdout.into(),
            stderr: options.stderr.into(),
        };
        match self.ctx.children.spawn(request) {
            Ok(child) => {
                self.ctx.report_use(used);
                Ok(Ok(self.table.push(child)?))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    /// The guest's error for a refused program, audited.
    fn refused(&mut self, refusal: RunRefusal) -> wit::Error {
        let message = refusal.to_string();
        match refusal {
            RunRefusal::NotFound => wit::Error::NotFound,
            RunRefusal::NotPermitted {
                asked,
                resolved,
                grant,
                ..
            } => {
                let used = CapabilityUse::denied("process.spawn", asked, grant).resolved(resolved);
                self.ctx.report_use(used);
                wit::Error::NotPermitted(message)
            }
        }
    }
}

impl wit::Host for ProcessView<'_> {
    fn spawn(
        &mut self,
        program: String,
        args: Vec<String>,
        options: wit::Options,
    ) -> wasmtime::Result<Result<Resource<ChildProcess>, wit::Error>> {
        let allowed = match self.ctx.run.check(&program) {
            Ok(allowed) => allowed,
            Err(refusal) => return Ok(Err(self.refused(refusal))),
        };
        // The child runs as granted: the grant's path, the grant's argv[0].
        let used = CapabilityUse::allowed("process.spawn", program)
            .resolved(Some(allowed.file.display().to_string()))
            .ran(allowed.arg0.clone());
        self.start(used, allowed.program, allowed.arg0, args, options)
    }

    fn spawn_shell(
        &mut self,
        command: String,
        options: wit::Options,
    ) -> wasmtime::Result<Result<Resource<ChildProcess>, wit::Error>> {
        if !self.ctx.run.shell() {
            let message = format!(
                "running a shell command is not granted (allow it with --allow-shell): {command}"
            );
            self.ctx.report_use(CapabilityUse::denied(
                "process.shell",
                command,
                "--allow-shell",
            ));
            return Ok(Err(wit::Error::NotPermitted(message)));
        }
        let used = CapabilityUse::allowed("process.shell", command.clone());
        self.start(
            used,
            "/bin/sh".into(),
            "sh".into(),
            vec!["-c".into(), command],
            options,
        )
    }
}

impl wit::HostChild for ProcessView<'_> {
    fn pid(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<u32> {
        Ok(self.table.get(&child)?.pid())
    }

    fn send_signal(
        &mut self,
        child: Resource<ChildProcess>,
        signal: i32,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(self.table.get(&child)?.signal(signal).map_err(Into::into))
    }

    fn drop(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<()> {
        // The process keeps running (as in asyncio); the registry still
        // reaps it, and kills it when the guest ends.
        self.table.delete(child)?;
        Ok(())
    }
}

impl<T> wit::HostChildWithStore<T> for Processes {
    fn set_stdin(
        mut store: Access<'_, T, Self>,
        child: Resource<ChildProcess>,
        mut data: StreamReader<u8>,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        let stdin = store.get().table.get_mut(&child)?.take_stdin();
        match stdin {
            Some(stdin) => {
                data.pipe(&mut store, PipeConsumer(stdin))?;
                Ok(Ok(()))
            }
            None => {
                data.close(&mut store)?;
                Ok(Err(wit::Error::InvalidArgument(
                    "stdin is not a pipe, or was already set".into(),
                )))
            }
        }
    }

    fn take_stdout(
        mut store: Access<'_, T, Self>,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<Option<StreamReader<u8>>> {
        match store.get().table.get_mut(&child)?.take_stdout() {
            Some(pipe) => Ok(Some(StreamReader::new(&mut store, PipeProducer(pipe))?)),
            None => Ok(None),
        }
    }

    fn take_stderr(
        mut store: Access<'_, T, Self>,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<Option<StreamReader<u8>>> {
        match store.get().table.get_mut(&child)?.take_stderr() {
            Some(pipe) => Ok(Some(StreamReader::new(&mut store, PipeProducer(pipe))?)),
            None => Ok(None),
        }
    }

    fn exit_status(
        mut store: Access<'_, T, Self>,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<FutureReader<wit::ExitStatus>> {
        let status = store.get().table.get(&child)?.exit_status();
        FutureReader::new(&mut store, async move {
            wasmtime::error::Ok(wit::ExitStatus::from(status.await))
        })
    }
}
