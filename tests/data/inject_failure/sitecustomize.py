"""Put on PYTHONPATH by tests/test_parallel.py: the worker of rank $FAIL_RANK fails at its
second optimiser step (FAIL_WHERE=step) or inside its first sharded save (FAIL_WHERE=save),
as a bug or a full disk would; every other process is left alone."""

import os

if os.environ.get("FAIL_WHERE") and os.environ.get("RANK") == os.environ.get("FAIL_RANK"):
    import torch.distributed.checkpoint
    import torch.optim

    if os.environ["FAIL_WHERE"] == "step":
        real_step, calls = torch.optim.AdamW.step, []

        def step(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("injected failure at step 2")
            return real_step(self, *args, **kwargs)

        torch.optim.AdamW.step = step
    else:

        def save(*args, **kwargs):
            raise OSError("injected failure inside the sharded save")

        torch.distributed.checkpoint.save = save
