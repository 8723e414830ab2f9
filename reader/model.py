"""The reader as a torch module (training only: needs the optional `train` extra).

The e5 network of `core.encoder_build.build_graph`, mirrored exactly: post-LayerNorm BERT,
positions 0..L-1, token type 0, erf GELU, additive -10000 mask. The base weights come from
`core.encoder_build.read_weights` and stay frozen; every linear layer of every transformer layer
(q, k, v, ao, fi, fo) gets a low-rank adapter (LoRA: W + (alpha/rank) * B @ A, B zero at start,
so the untrained module is the base encoder), and two heads read the last hidden states:
- `answerable`: one logit from the `<s>` state (does this window answer the question?);
- `span`: a start and an end logit per token; SQuAD 2.0 style, an unanswerable example's
  target span is `<s>` (position 0).

LoRA is written here rather than taken from `peft`: the network is not a transformers model, the
adapter is ten lines, and the export must merge it into the numpy weights the ONNX builder reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.encoder_build import E5Weights

LINEARS = ("q", "k", "v", "ao", "fi", "fo")


class LoRALinear(nn.Module):
    """A frozen linear layer (weight stored [out, in]) plus a trainable low-rank update."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, rank: int, alpha: float) -> None:
        super().__init__()
        out_f, in_f = weight.shape
        self.weight = nn.Parameter(torch.from_numpy(np.array(weight)), requires_grad=False)
        self.bias = nn.Parameter(torch.from_numpy(np.array(bias)), requires_grad=False)
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, in_f))
        self.lora_b = nn.Parameter(torch.zeros(out_f, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        return y + F.linear(F.linear(x, self.lora_a), self.lora_b) * self.scale

    def merged_weight(self) -> np.ndarray:
        """W + scale * B @ A as float32 numpy [out, in]."""
        with torch.no_grad():
            w = self.weight + self.scale * self.lora_b @ self.lora_a
        return w.detach().cpu().numpy().astype(np.float32)


class ReaderModel(nn.Module):
    """e5 + LoRA + answerability and span heads.

    Args:
        w: the dequantised base weights (`read_weights`).
        rank: LoRA rank; alpha: LoRA scale numerator (update scaled by alpha / rank).
    """

    def __init__(self, w: E5Weights, rank: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        t = w.tensors
        self.heads, self.hidden, self.eps = w.heads, w.hidden, w.eps
        self.rank, self.alpha = rank, alpha

        def frozen(name: str) -> nn.Parameter:
            return nn.Parameter(
                torch.from_numpy(np.array(t[name], np.float32)), requires_grad=False
            )

        self.word = frozen("emb.word")
        self.pos_type = nn.Parameter(
            torch.from_numpy(np.array(t["emb.pos"] + t["emb.type"][0], np.float32)),
            requires_grad=False,
        )
        self.emb_ln = nn.ParameterList([frozen("emb.ln.w"), frozen("emb.ln.b")])
        self.layers = nn.ModuleList()
        for i in range(w.layers):
            layer = nn.ModuleDict(
                {
                    name: LoRALinear(t[f"l{i}.{name}.w"], t[f"l{i}.{name}.b"], rank, alpha)
                    for name in LINEARS
                }
            )
            layer["aln"] = nn.ParameterList([frozen(f"l{i}.aln.w"), frozen(f"l{i}.aln.b")])
            layer["oln"] = nn.ParameterList([frozen(f"l{i}.oln.w"), frozen(f"l{i}.oln.b")])
            self.layers.append(layer)
        self.answerable = nn.Linear(w.hidden, 1)
        self.span = nn.Linear(w.hidden, 2)
        for head in (self.answerable, self.span):
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def _ln(self, x: torch.Tensor, p: nn.Module) -> torch.Tensor:
        scale, bias = cast(nn.ParameterList, p)
        return F.layer_norm(x, (self.hidden,), scale, bias, self.eps)

    def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states [batch, length, hidden], as build_graph's `hidden` output."""
        b, length = ids.shape
        hd = self.hidden // self.heads
        x = self._ln(self.word[ids] + self.pos_type[:length], self.emb_ln)
        bias = (1.0 - mask.to(x.dtype))[:, None, None, :] * -10000.0
        for module in self.layers:
            layer = cast(nn.ModuleDict, module)

            def heads(name: str, x: torch.Tensor = x, layer: nn.ModuleDict = layer) -> torch.Tensor:
                return layer[name](x).view(b, length, self.heads, hd).transpose(1, 2)

            q, k, v = heads("q"), heads("k"), heads("v")
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (probs @ v).transpose(1, 2).reshape(b, length, self.hidden)
            x = self._ln(x + layer["ao"](ctx), layer["aln"])
            h = F.gelu(layer["fi"](x))  # exact (erf) GELU, torch's default
            x = self._ln(x + layer["fo"](h), layer["oln"])
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """`answerable` [batch] logits, `start` and `end` [batch, length] logits (padding
        masked to -inf-like), `hidden` [batch, length, hidden]."""
        hidden = self.encode(ids, mask)
        span = self.span(hidden)
        pad = (1.0 - mask.to(span.dtype)) * -1e4
        return {
            "answerable": self.answerable(hidden[:, 0]).squeeze(-1),
            "start": span[..., 0] + pad,
            "end": span[..., 1] + pad,
            "hidden": hidden,
        }

    def freeze_below(self, layer: int) -> None:
        """Train only the adapters of layers `layer` and up (and the heads): the adapters below
        keep their values and stop learning. No parameter below then needs a gradient, so
        autograd records nothing there: a step computes those layers forward only."""
        for i, module in enumerate(self.layers):
            for name in LINEARS:
                lin = cast(LoRALinear, cast(nn.ModuleDict, module)[name])
                lin.lora_a.requires_grad_(i >= layer)
                lin.lora_b.requires_grad_(i >= layer)

    def learned(self) -> dict[str, np.ndarray]:
        """The trainable part as numpy: `l{i}.{name}.lora_a|lora_b` and the heads' weights."""
        out: dict[str, np.ndarray] = {}
        for i, module in enumerate(self.layers):
            for name in LINEARS:
                lin = cast(LoRALinear, cast(nn.ModuleDict, module)[name])
                out[f"l{i}.{name}.lora_a"] = lin.lora_a.detach().cpu().numpy()
                out[f"l{i}.{name}.lora_b"] = lin.lora_b.detach().cpu().numpy()
        out["head.answerable.w"] = self.answerable.weight.detach().cpu().numpy()
        out["head.answerable.b"] = self.answerable.bias.detach().cpu().numpy()
        out["head.span.w"] = self.span.weight.detach().cpu().numpy()
        out["head.span.b"] = self.span.bias.detach().cpu().numpy()
        out["lora.scale"] = np.array(self.alpha / self.rank, np.float32)
        return out

    def load_learned(self, learned: Mapping[str, np.ndarray]) -> None:
        """Set the trainable part from `learned()`'s arrays (a learned.npz, or the shipped
        reader.npz in float16), to train on from it. Raises ValueError when the file's rank or
        scale is not this model's."""
        scale = float(learned["lora.scale"])
        if not np.isclose(scale, self.alpha / self.rank):
            raise ValueError(f"LoRA scale {scale} is not alpha / rank = {self.alpha / self.rank}")
        with torch.no_grad():
            for i, module in enumerate(self.layers):
                for name in LINEARS:
                    lin = cast(LoRALinear, cast(nn.ModuleDict, module)[name])
                    for part in ("lora_a", "lora_b"):
                        _copy(getattr(lin, part), learned[f"l{i}.{name}.{part}"])
            _copy(self.answerable.weight, learned["head.answerable.w"])
            _copy(self.answerable.bias, learned["head.answerable.b"])
            _copy(self.span.weight, learned["head.span.w"])
            _copy(self.span.bias, learned["head.span.b"])


def _copy(param: torch.Tensor, value: np.ndarray) -> None:
    if tuple(param.shape) != value.shape:
        raise ValueError(
            f"learned array of shape {value.shape} for a parameter of {tuple(param.shape)}"
        )
    param.copy_(torch.from_numpy(np.asarray(value, np.float32)))


def mean_pooled(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """build_graph's `pooled`: the masked mean over all tokens (not normalised)."""
    m = mask.to(hidden.dtype)[..., None]
    return (hidden * m).sum(1) / m.sum(1)


def loss_fn(out: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """BCE on answerability + cross-entropy on start and end (target 0 = `<s>` when
    unanswerable; -100, an answer cut off by the length limit, is left out)."""
    ans = F.binary_cross_entropy_with_logits(out["answerable"], batch["answerable"].float())
    if not bool((batch["start"] >= 0).any()):  # every answer in the batch was cut off
        return ans
    span = F.cross_entropy(out["start"], batch["start"]) + F.cross_entropy(out["end"], batch["end"])
    return ans + span / 2


def group_loss(logits: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Mean over the answering pairs of a batch of -log softmax of their answerability logit
    against the logits of the negatives of their own question (same `group`): the answering
    window ranked above the same window with its answer cut out, the question perturbed, the
    other windows of its article. Pairs whose question has no negative in the batch, and
    negatives without an answering pair, add nothing; 0 when no question has both."""
    terms = []
    for g in torch.unique(group):
        at = group == g
        pos, neg = logits[at & (y == 1)], logits[at & (y == 0)]
        if len(pos) and len(neg):
            both = torch.cat([pos[:, None], neg[None, :].expand(len(pos), -1)], dim=1)
            terms.append(torch.logsumexp(both, dim=1) - pos)
    if not terms:
        return logits.sum() * 0.0  # keeps the graph (and the dtype) for backward
    return torch.cat(terms).mean()
