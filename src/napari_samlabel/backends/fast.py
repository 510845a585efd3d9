"""Fast mode: SAM 2 under bf16 autocast where the hardware runs bf16 natively.

Measured on a 2-core Xeon with AMX (SAM 2.1 tiny, 1024 px input, random weights, a 512 px
plane; ``benchmarks/bench_fast.py``), against raw fp32 sam2 on the same plane: embedding
2.3-2.5x faster (1.65 -> 0.65 s), a tracked frame 2.5x (2.97 -> 1.16 s), decoding 1.2x;
the image embedding within 1.0% of fp32, masks from the same prompts at IoU >= 0.98.
Of that, bf16 autocast gives about 2x and a channels-last input tensor 1.24x more (the
patch-embedding convolution gains). Measured and left out: channels-last weights (nothing
more), oneDNN's implicit bf16 for fp32 matmuls (1.2x only), ``torch.compile`` of the
encoder (1.5x slower after a 55 s compile), one thread instead of two (slower on an idle
machine); a lower input resolution only suits checkpoints trained at it (none listed here).
On an AMD EPYC with AVX-512 BF16 and no AMX (issue 24): embedding 1.47x (2.33 -> 1.58 s), a
tracked frame 1.36x; why it stays off the bf16 floor there: README, "Fast mode and reused
embeddings". Without AVX-512 (AVX2 only) PyTorch has no bf16 kernels: refused, fp32.

Only torch is imported here, and only when a function is called.
"""

from __future__ import annotations

import contextlib
import functools
import time

NATIVE_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:  # not Linux
        pass
    return set()


def _probe_cpu_bf16(size: int = 384, repeats: int = 5) -> tuple[float, float]:
    """Seconds (fp32, bf16 autocast) of the fastest of a few matmuls: is bf16 really faster?"""
    import torch

    a = torch.randn(size, size)
    b = torch.randn(size, size)

    def best(ctx) -> float:
        times = []
        with torch.inference_mode(), ctx():
            a @ b  # warm-up (oneDNN picks its kernels once)
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(4):
                    a @ b
                times.append(time.perf_counter() - t0)
        return min(times)

    return best(contextlib.nullcontext), best(lambda: torch.autocast("cpu", dtype=torch.bfloat16))


@functools.lru_cache(maxsize=None)
def bf16_support(device: str = "cpu") -> tuple[bool, str]:
    """(supported, one line saying why) for bf16 autocast on ``device`` ('cpu', 'cuda', 'cuda:1', 'mps').

    CUDA: the GPU must compute in bf16 natively (Ampere or newer). CPU: PyTorch's oneDNN
    must have bf16 kernels, and the CPU must run them natively (AMX or AVX-512 BF16 in
    /proc/cpuinfo) or a quick matmul probe must find bf16 faster than fp32 (emulated bf16
    on plain AVX-512 is often slower, which would make "fast mode" slow)."""
    from .torch_guard import guard_torch_import

    guard_torch_import()
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return False, "CUDA is not available"
        name = torch.cuda.get_device_name(dev)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"bf16 autocast on {name}"
        return False, f"{name} has no native bf16 (needs compute capability 8.0 or newer)"
    if dev.type != "cpu":
        return False, f"fast mode covers CPUs and CUDA GPUs, not {dev.type}"
    capability = torch.backends.cpu.get_cpu_capability()
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False, f"this CPU ({capability}) has no bf16 support in PyTorch (needs AVX-512 or AMX)"
    native = sorted(set(NATIVE_CPU_FLAGS) & _cpu_flags())
    if native:
        return True, f"bf16 autocast on the CPU ({', '.join(native)})"
    fp32_s, bf16_s = _probe_cpu_bf16()
    if bf16_s < 0.8 * fp32_s:
        return True, f"bf16 autocast on the CPU ({capability}; a probe found it {fp32_s / bf16_s:.1f}x faster)"
    return False, f"bf16 is emulated on this CPU ({capability}) and no faster than fp32: fast mode stays off"


def autocast(device: str, on: bool):
    """The context SAM 2 runs in: bf16 autocast when ``on``, else nothing."""
    if not on:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
