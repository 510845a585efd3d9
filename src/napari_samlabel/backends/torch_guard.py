"""Import torch safely inside a napari process.

napari on Mesa's software OpenGL (llvmpipe: virtual machines, remote desktops, CI) loads
Mesa's libLLVM into the process. torchvision imports ``torch._dynamo``, which imports
triton, whose bundled LLVM then crashes the process on load (a segfault, no message).
triton only serves ``torch.compile`` on NVIDIA GPUs, which nothing here uses, so when
another LLVM is already loaded it is hidden from the import system before torch comes in.
"""

from __future__ import annotations

import sys


def llvm_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return any("libLLVM" in line for line in maps)
    except OSError:  # not Linux: no Mesa llvmpipe in the process
        return False


def guard_torch_import() -> None:
    """Call before importing torchvision or sam2 (torch itself loads triton lazily)."""
    if "triton" in sys.modules or "torch._dynamo" in sys.modules:
        return
    if llvm_loaded():
        sys.modules["triton"] = None  # import triton -> ImportError: torch treats it as absent
