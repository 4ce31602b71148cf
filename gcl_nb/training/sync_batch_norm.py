"""BatchNorm over the global batch when several processes share it (torchrun), so that N processes train the
model one process would (the default `gcl-rn-tiny` image tower is a ResNet with BatchNorm).

Each process holds a slice of the global batch; plain BatchNorm would normalise with its slice's statistics
and keep rank 0's running statistics. `synchronise_batch_norm` replaces every BatchNorm layer by one whose
statistics are those of the global batch: torch's SyncBatchNorm on CUDA (nccl), and on the CPU (gloo, where
SyncBatchNorm does not run) `GlobalBatchNorm`, which sums over the processes with two differentiable all-reduces
(the mean, then the centred squares: the same two-pass statistics as one process, up to summation order),
computed in float64 forward and backward, so that the first step's gradients of 2 processes equal those of 1
process to thread noise (tests/test_train.py).
The state_dict keys stay those of BatchNorm, so checkpoints are unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

#: the precision of GlobalBatchNorm's statistics and normalisation, forward and backward: in float32 the first
#: BatchNorm layers' gradients of 2 processes differed from 1 process's by 1.6e-3 (relative), 94x thread noise
STATISTICS_DTYPE = torch.float64


class _AllReduceSum(torch.autograd.Function):
    """The sum of a tensor over every process; its gradient is the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the batch of every process together (all-reduced sums in
    STATISTICS_DTYPE; gradients flow through them to every process's rows). Evaluation uses the running
    statistics, as BatchNorm."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (N, C, ...), got {input.dim()}-d")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not (self.training or self.running_mean is None):
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        dims = [0, *range(2, x.dim())]
        wide = x.to(STATISTICS_DTYPE)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=STATISTICS_DTYPE, device=x.device)
        dist.all_reduce(count)
        mean = _AllReduceSum.apply(wide.sum(dims)) / count
        shape = [1, -1] + [1] * (x.dim() - 2)
        centred = wide - mean.view(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach().to(x.dtype), momentum)
                self.running_var.lerp_((var.detach() * count / (count - 1)).to(x.dtype), momentum)
        out = (centred * torch.rsqrt(var + self.eps).view(shape)).to(x.dtype)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def synchronise_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` with every BatchNorm layer computing global-batch statistics across the processes of the default
    group (SyncBatchNorm on CUDA, GlobalBatchNorm elsewhere), holding the same parameter and buffer objects. Call
    it before making the optimiser and wrapping the model in DistributedDataParallel."""
    if not dist.is_initialized():
        raise RuntimeError("synchronise_batch_norm needs an initialised process group (torchrun)")
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _replace_batch_norm(module)


def _replace_batch_norm(module: nn.Module) -> nn.Module:
    """`module`, or a GlobalBatchNorm holding its very parameters and buffers (an optimiser made before still
    updates them), with every BatchNorm child replaced alike."""
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        synced = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        for name, value in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            setattr(synced, name, value)
        return synced.train(module.training)
    for name, child in module.named_children():
        module.add_module(name, _replace_batch_norm(child))
    return module
