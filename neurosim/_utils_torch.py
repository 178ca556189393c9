"""Shared torch helpers (imported by the torch-based subpackages only, never by the simulation core).
"""

__all__ = ["check_finite_loss", "resolve_device"]


def resolve_device(device=None):
    """The :class:`torch.device` to compute on, with a clear error for one that cannot be used.

    Parameters
    ----------
    device : None | str | torch.device
        None or ``"auto"``: ``"cuda"`` when CUDA is available, else ``"cpu"``. Otherwise any
        torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) or :class:`torch.device`.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        For a string torch does not know, or a CUDA device when CUDA is not available.
    TypeError
        For anything else than None, a str or a torch.device.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be None, 'auto', a str such as 'cpu' or 'cuda:0', or a "
                        f"torch.device, got {type(device).__name__}: {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; expected None, 'auto', 'cpu', 'cuda' or "
                         "'cuda:N'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available; use "
                         "'cpu' or 'auto'")
    return dev


def check_finite_loss(loss, where):
    """Raise :class:`FloatingPointError` if ``loss`` is NaN or inf, as the decoding Trainer does.

    Shared by the training loops outside the Trainer (continual learners, active-dendrite
    classifiers, the homeostatic MLP): a diverged run stops with a clear error instead of
    leaving NaN weights that predict class 0. One device-to-host sync per call.

    Parameters
    ----------
    loss : torch.Tensor | float
        A scalar loss (or any tensor whose values must all be finite).
    where : str
        Where the loss was computed, for the message (e.g. ``"task 2, step 17"``).

    Raises
    ------
    FloatingPointError
        If a value is NaN or inf.

    Examples
    --------
    >>> import torch
    >>> check_finite_loss(torch.tensor(0.5), "step 1")
    >>> check_finite_loss(torch.tensor(float("nan")), "step 2")
    Traceback (most recent call last):
    ...
    FloatingPointError: the loss is nan at step 2; lower the learning rate or check the data
    """
    import torch

    if isinstance(loss, torch.Tensor):
        t = loss.detach()
        if bool(torch.isfinite(t).all()):
            return
        value = float(t) if t.numel() == 1 else "non-finite"
    else:
        value = float(loss)
        if value == value and abs(value) != float("inf"):
            return
    raise FloatingPointError(f"the loss is {value} at {where}; lower the learning rate or "
                             "check the data")
