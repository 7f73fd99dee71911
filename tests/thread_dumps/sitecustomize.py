"""Loaded by every process the tests start (harness.child_env puts this folder on PYTHONPATH).

On THREAD_DUMP_SIGNAL the process writes every thread's stack to its log: when a test fails, the
conftest sends it to the processes still running, so a hang in a full run shows where each thread was.
A real-time signal, because gunicorn (the functions-framework's server) handles SIGUSR1/SIGUSR2 itself.
"""
import faulthandler
import signal

faulthandler.register(signal.SIGRTMIN + 1, all_threads=True, chain=False)
