"""Run independent tasks serially, on a concurrent.futures Executor, or on a Dask cluster.

One helper for hyperparameter trials and ensemble members: `run_tasks(fn, args, executor)`
yields (index, result) as tasks finish, with a tqdm bar counting them. A task whose worker
fails outside `fn` (a crashed process, an unpicklable argument) yields a `TaskError`
instead of stopping the others.
"""
from __future__ import annotations

import concurrent.futures as cf
import traceback


__all__ = ["run_tasks", "TaskError", "is_dask_client"]


class TaskError:
    """A task that did not return: `error` ("Type: message"), `traceback` (text)."""

    def __init__(self, exc: BaseException):
        self.error = f"{type(exc).__name__}: {exc}"
        self.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __repr__(self):
        return f"TaskError({self.error!r})"


def is_dask_client(executor) -> bool:
    """A dask.distributed Client (recognised without importing dask)."""
    cls = type(executor)
    return (cls.__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")
            and hasattr(executor, "gather"))


def _check(executor, where):
    if executor is None or is_dask_client(executor) or isinstance(executor, cf.Executor):
        return
    raise TypeError(f"{where}: executor must be None (serial), a concurrent.futures.Executor "
                    "(ThreadPoolExecutor, ProcessPoolExecutor) or a dask.distributed.Client, "
                    f"got {type(executor).__name__}")


def run_tasks(fn, args_list, executor=None, progress=True, desc="tasks", where="run"):
    """Yield (index, fn(*args_list[index]) or TaskError) as the tasks finish."""
    _check(executor, where)
    from tqdm.auto import tqdm   # here, not at import: it costs ~0.1 s
    bar = tqdm(total=len(args_list), desc=desc, unit="task", disable=not progress,
               dynamic_ncols=True)
    try:
        if executor is None:
            for i, args in enumerate(args_list):
                try:
                    result = fn(*args)
                except Exception as exc:  # noqa: BLE001 - recorded, not fatal
                    result = TaskError(exc)
                bar.update(1)
                yield i, result
            return
        if is_dask_client(executor):
            from distributed import as_completed
            futures = [executor.submit(fn, *args, pure=False) for args in args_list]
        else:
            as_completed = cf.as_completed
            futures = [executor.submit(fn, *args) for args in args_list]
        index = {f: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool, pickling
                result = TaskError(exc)
            bar.update(1)
            yield index[future], result
    finally:
        bar.close()
