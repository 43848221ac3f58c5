"""Test-environment workaround, copied into .venv-vllm as sitecustomize.py by `make vllm-venv`.

PyPI's torchvision is a CUDA build: beside the CPU torch its extension does not load, and
`import torchvision` then fails in `_meta_registrations.py` with `operator torchvision::nms
does not exist` (the two ops it registers fake kernels for without checking the extension:
nms and qnms). vLLM's Qwen2.5-VL imports torchvision (for its image transforms only), so
this hook defines the two op schemas just before torchvision is first imported. Nothing
calls them. Not product code; never installed outside the vLLM test environment.
"""

import importlib.abc
import sys

_libraries = []  # keeps the torch.library.Library objects (and their definitions) alive


class _DefineTorchvisionOps(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            try:
                import torch.library

                lib = torch.library.Library("torchvision", "FRAGMENT")
                for op in ("nms", "qnms"):
                    if not hasattr(torch.ops.torchvision, op):
                        lib.define(
                            f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
                        )
                _libraries.append(lib)
            except Exception as exc:  # never break interpreter start-up
                print(f"vllm_sitecustomize: {exc!r}", file=sys.stderr)
        return None


sys.meta_path.insert(0, _DefineTorchvisionOps())
