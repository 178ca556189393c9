"""The Trainer under ``torchrun``: process group from the environment, collectives, DDP wrapper.

``torchrun`` (and ``torch.multiprocessing`` launchers that set the same variables) export
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. When
``WORLD_SIZE`` is set, :func:`setup` joins (or creates) the default process group with the
``gloo`` backend on the CPU and ``nccl`` on CUDA; without it, training is one process and every
collective here is a no-op, so the same script runs under ``python`` and ``torchrun``.
"""

from __future__ import annotations

import atexit
import os

import torch

__all__ = ["Distributed", "StepModule", "check_world_vs_data", "setup"]


def _env_int(name):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer "
                         "(it is set by torchrun)") from None


def check_world_vs_data(data):
    """Refuse a ``WORLD_SIZE`` larger than the number of training samples, before joining."""
    world = _env_int("WORLD_SIZE")
    if world is None or world <= 1:
        return
    try:
        n = len(data[0]) if isinstance(data, (tuple, list)) and data else len(data)
    except TypeError:
        return
    if n < world:
        raise ValueError(f"train has {n} samples, fewer than the {world} processes (WORLD_SIZE): "
                         "every process needs at least one sample; start fewer processes")


def _destroy():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


class Distributed:
    """World size, rank and the collectives the Trainer needs (no-ops for one process)."""

    def __init__(self, world_size=1, rank=0, local_rank=0, created=False, group=False):
        self.group = bool(group)  # whether this fit trains in the process group
        self.world_size = int(world_size)
        self.rank = int(rank)
        self.local_rank = int(local_rank)
        self.created = created  # whether setup() initialised the process group
        self.device = None

    @property
    def active(self):
        """True when this fit trains in a process group (even one of world size 1)."""
        return (self.group and torch.distributed.is_available()
                and torch.distributed.is_initialized())

    @property
    def is_main(self):
        return self.rank == 0

    def _tensor(self, values):
        dev = self.device if self.device is not None and self.device.type == "cuda" else "cpu"
        return torch.tensor(values, dtype=torch.float64, device=dev)

    def sum(self, values):
        """Sum a list of floats over all ranks."""
        if not self.active:
            return list(values)
        t = self._tensor(list(values))
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return t.cpu().tolist()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]

    def gather(self, obj):
        """The list of every rank's ``obj`` (rank order), on every rank."""
        if not self.active:
            return [obj]
        out = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def barrier(self):
        if self.active:
            if self.device is not None and self.device.type == "cuda":
                torch.distributed.barrier(device_ids=[self.device.index or 0])
            else:
                torch.distributed.barrier()

    def _object_device(self):
        if self.device is not None and self.device.type == "cuda":
            return self.device
        return None

    def close(self):
        """Nothing: the process group lives until the process exits (see :func:`setup`)."""


def setup(device_request):
    """Join the process group described by the environment, if any.

    Parameters
    ----------
    device_request : None | str | torch.device
        The Trainer's ``device``. Under a process group with CUDA, None or ``"cuda"`` becomes
        ``cuda:LOCAL_RANK``.

    Returns
    -------
    dist : Distributed
        With ``device`` set to the device this rank trains on.
    """
    from ._trainer import resolve_device

    world = _env_int("WORLD_SIZE")
    if world is None:
        dist = Distributed()
        dist.device = resolve_device(device_request)
        return dist
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {world}")
    rank = _env_int("RANK") or 0
    local_rank = _env_int("LOCAL_RANK")
    local_rank = rank if local_rank is None else local_rank
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside 0..WORLD_SIZE-1={world - 1}")
    if not torch.distributed.is_available():
        raise RuntimeError("WORLD_SIZE is set (torchrun) but this torch build has no "
                           "torch.distributed")
    device = resolve_device(device_request)
    if device.type == "cuda" and (device_request is None or device.index is None):
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA "
                             "device(s) are visible: start at most that many processes per node")
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    created = False
    if not torch.distributed.is_initialized():
        for var in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(var):
                raise ValueError(f"WORLD_SIZE={world} is set but {var} is not: start the script "
                                 "with torchrun, or set MASTER_ADDR and MASTER_PORT")
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        torch.distributed.init_process_group(backend=backend, rank=rank, world_size=world,
                                             **kwargs)
        # kept for the next fit in this process (destroying and creating it again reuses the
        # rendezvous keys and can pair a new group with a stale one); destroyed at exit
        atexit.register(_destroy)
        created = True
    elif torch.distributed.get_world_size() != world:
        raise ValueError(f"WORLD_SIZE={world} but the process group holds "
                         f"{torch.distributed.get_world_size()} processes")
    dist = Distributed(world, rank, local_rank, created, group=True)
    dist.device = device
    return dist


class StepModule(torch.nn.Module):
    """``forward(batch) = step(model, batch)``: lets DDP see the whole training step.

    :class:`~torch.nn.parallel.DistributedDataParallel` synchronises gradients only for passes
    through its own ``forward``; a decoder's ``training_step`` calls the model from inside, so
    the Trainer wraps ``step`` and the model together.
    """

    def __init__(self, model, step):
        super().__init__()
        self.model = model
        self._step = step

    def forward(self, batch):
        return self._step(self.model, batch)
