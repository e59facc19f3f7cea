"""Search space <-> numeric vectors for the ``bayesian`` searcher (BoTorch).

Every searched parameter has a *column*: one entry of the encoded vector for a float or an int,
``n`` entries (a one-hot block) for a categorical with ``n`` choices. Fixed parameters (and int
or categorical parameters with a single value) have no column and are carried through unchanged.
All entries lie in ``[0, 1]``. Per kind:

* float: ``Param.to_unit`` -- the position of the value in ``[low, high]``, on the log scale for
  ``log`` parameters, so that the model sees log parameters in log space.
* int: ``Param.to_unit`` too -- the centre of the value's cell in the padded interval
  ``[low - step/2, high + step/2]`` (log: of ``log(value)`` in ``[log(low - 1/2),
  log(high + 1/2)]``). The entry is *ordinal*: the acquisition optimiser may relax it to the
  whole interval ``[0, 1]``, but a candidate is only ever a grid point (:meth:`BoEncoding.snap`
  maps a relaxed value to the centre of the cell containing it, and the optimiser then compares
  the grid neighbours by acquisition value, see :mod:`nas.searchers._bo_optimize`).
* categorical: one-hot, so that every two different choices are equally far apart (the GP's
  kernel learns one lengthscale per choice) and the order of the choices carries no meaning.

Some routines work in *column space* ``[0, 1]^n_columns`` (one coordinate per parameter, e.g. a
Sobol point): :meth:`BoEncoding.from_unit_design` maps it through each parameter's ``from_unit``.

Conditional spaces are refused (:class:`~nas.exceptions.SearcherConfigError`): a GP over
vectors of fixed length has no natural place for inactive parameters.

Everything here is plain numpy (float64); the searcher converts to torch tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nas.exceptions import SearcherConfigError

if TYPE_CHECKING:
    from nas.space import Param, Scalar, SearchSpace

__all__ = ["BoEncoding", "Column"]

ColumnKind = Literal["float", "int", "categorical"]


@dataclass(frozen=True)
class Column:
    """One searched parameter and its entries of the encoded vector.

    Attributes:
        index: position of the column among the columns (its coordinate in column space).
        start: position of its first entry in an encoded vector.
        width: number of entries (1, or the number of choices of a categorical).
        param: the parameter.
        kind: ``"float"``, ``"int"`` (ordinal) or ``"categorical"`` (one-hot).
        n_values: number of values (``None`` for a float).
    """

    index: int
    start: int
    width: int
    param: Param
    kind: ColumnKind
    n_values: int | None

    @property
    def stop(self) -> int:
        """One past the column's last entry."""
        return self.start + self.width


class BoEncoding:
    """Encode assignments of an unconditional space as float vectors and decode them back.

    Args:
        space: the search space; no parameter may carry a condition.
        owner: the searcher's name, used in error messages.

    Raises:
        SearcherConfigError: a parameter of ``space`` is conditional; the message names it and
            its parent and suggests searchers that handle conditional spaces.

    Attributes:
        space: the space.
        columns: the searched parameters, in the space's order, one column each.
        fixed: name -> value of every parameter without a column (fixed, or a single value).
        n_columns: number of columns (searched parameters).
        dim: number of entries of an encoded vector (0 for a space of fixed parameters only).
        cont_dims: entries of float columns.
        int_dims: entries of int (ordinal) columns.
        cat_blocks: ``(start, width)`` of every categorical one-hot block.
        cat_dims: every entry of the categorical blocks.
        bounds: ``(2, dim)`` array of entry bounds (all ``[0, 1]``).
    """

    def __init__(self, space: SearchSpace, owner: str = "bayesian") -> None:
        for p in space.params:
            if p.condition is not None:
                raise SearcherConfigError(
                    f"{owner} does not support conditional parameters "
                    f"({p.name!r} depends on {p.condition.parent!r}); "
                    f"use bohb, evolution or random"
                )
        self.space = space
        columns: list[Column] = []
        fixed: dict[str, Scalar] = {}
        start = 0
        for p in space.params:
            card = p.cardinality
            if p.kind == "fixed" or card == 1:
                # A single possible value: nothing to search, carried through.
                fixed[p.name] = p.from_unit(0.5)
                continue
            kind: ColumnKind = p.kind  # type: ignore[assignment]
            width = int(card) if kind == "categorical" else 1  # type: ignore[arg-type]
            columns.append(Column(len(columns), start, width, p, kind, card))
            start += width
        self.columns: tuple[Column, ...] = tuple(columns)
        self.fixed: dict[str, Scalar] = fixed
        self.n_columns = len(columns)
        self.dim = start
        self.cont_dims = [c.start for c in columns if c.kind == "float"]
        self.int_dims = [c.start for c in columns if c.kind == "int"]
        self.cat_blocks = [(c.start, c.width) for c in columns if c.kind == "categorical"]
        self.cat_dims = [i for b, w in self.cat_blocks for i in range(b, b + w)]
        self._by_start = {c.start: c for c in columns}
        self.bounds = np.stack([np.zeros(self.dim), np.ones(self.dim)])

    # ------------------------------------------------------------------ values <-> vectors

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """The ``(dim,)`` vector of an assignment (extra or fixed keys are ignored).

        Raises:
            SpaceError: a searched parameter is missing or has a value outside its domain.
        """
        out = np.zeros(self.dim)
        for c in self.columns:
            name = c.param.name
            if name not in params:
                from nas.exceptions import SpaceError

                raise SpaceError(
                    f"parameter {name!r} is missing from the assignment {dict(params)!r}"
                )
            value = params[name]
            if c.kind == "categorical":
                out[c.start + c.param.index(value)] = 1.0  # type: ignore[attr-defined]
            else:
                out[c.start] = c.param.to_unit(value)
        return out

    def encode_many(self, assignments: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(len(assignments), dim)`` matrix of :meth:`encode` rows."""
        out = np.empty((len(assignments), self.dim))
        for i, params in enumerate(assignments):
            out[i] = self.encode(params)
        return out

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Scalar]:
        """The assignment of a vector (complete: searched and fixed parameters, space order).

        An int entry goes to the grid value whose cell contains it and a categorical block to
        its largest entry (the first on ties), so a vector from :meth:`snap` decodes exactly to
        its grid point.

        Raises:
            ValueError: ``x`` does not have ``dim`` entries.
        """
        x = np.asarray(x, dtype=float).reshape(-1)
        if x.shape[0] != self.dim:
            raise ValueError(f"expected a vector of {self.dim} entries, got {x.shape[0]}")
        by_name: dict[str, Scalar] = dict(self.fixed)
        for c in self.columns:
            if c.kind == "categorical":
                code = int(np.argmax(x[c.start : c.stop]))
                by_name[c.param.name] = c.param.choices[code]  # type: ignore[attr-defined]
            else:
                u = float(x[c.start])
                by_name[c.param.name] = c.param.from_unit(min(1.0, max(0.0, u)))
        return {name: by_name[name] for name in self.space.names}

    def from_unit_design(self, units: np.ndarray) -> np.ndarray:
        """Map points of column space ``[0, 1]^n_columns`` (e.g. Sobol) to encoded vectors.

        Each coordinate goes through its parameter's ``from_unit`` (a uniform coordinate gives
        a uniform float, a uniform grid cell, a uniform choice) and back into the encoding, so
        that int and categorical entries are valid.

        Args:
            units: ``(k, n_columns)`` array with entries in ``[0, 1]``.

        Returns:
            ``(k, dim)`` array of valid encoded vectors.
        """
        units = np.asarray(units, dtype=float).reshape(-1, self.n_columns)
        out = np.zeros((len(units), self.dim))
        rows = np.arange(len(units))
        for c in self.columns:
            col = units[:, c.index]
            if c.kind == "float":
                out[:, c.start] = col
            elif c.kind == "int":
                out[:, c.start] = [c.param.to_unit(c.param.from_unit(float(u))) for u in col]
            else:
                code = np.minimum(np.floor(col * c.width), c.width - 1).astype(int)
                out[rows, c.start + code] = 1.0
        return out

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Project (relaxed) vectors onto valid ones: floats clipped to ``[0, 1]``, ints to the
        centre of the cell containing the value, categorical blocks to the one-hot of their
        largest entry.

        Args:
            x: ``(k, dim)`` array.

        Returns:
            A new ``(k, dim)`` array.
        """
        x = np.clip(np.array(x, dtype=float).reshape(-1, self.dim), 0.0, 1.0)
        for i in self.int_dims:
            p = self._by_start[i].param
            x[:, i] = [p.to_unit(p.from_unit(float(u))) for u in x[:, i]]
        rows = np.arange(len(x))
        for start, width in self.cat_blocks:
            code = np.argmax(x[:, start : start + width], axis=1)
            x[:, start : start + width] = 0.0
            x[rows, start + code] = 1.0
        return x

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """Every vector one discrete move away from the valid vector ``x``: one int entry moved
        by ``1, 2, 4, 8, ...`` grid steps down or up (while on the grid; the doubling ladder
        crosses a long grid in a few moves), or another choice of one categorical block.

        Returns:
            ``(k, dim)`` array, possibly with ``k == 0`` (no int or categorical column). For
            each int entry the one-step neighbours come first, below then above.
        """
        rows: list[np.ndarray] = []
        for i in self.int_dims:
            p = self._by_start[i].param
            value = p.from_unit(float(x[i]))
            step = p.step  # type: ignore[attr-defined]
            k = 1
            while k < p.cardinality:  # type: ignore[operator]
                for v in (value - k * step, value + k * step):
                    if p.contains(v):
                        row = x.copy()
                        row[i] = p.to_unit(v)
                        rows.append(row)
                k *= 2
        for start, width in self.cat_blocks:
            current = int(np.argmax(x[start : start + width]))
            for code in range(width):
                if code != current:
                    row = x.copy()
                    row[start : start + width] = 0.0
                    row[start + code] = 1.0
                    rows.append(row)
        if not rows:
            return np.empty((0, self.dim))
        return np.stack(rows)

    def perturb(
        self, x: np.ndarray, rng: np.random.Generator, count: int, sigma: float
    ) -> np.ndarray:
        """``count`` valid vectors near ``x`` (local candidates around a good point).

        Float and int entries move by ``N(0, sigma**2)`` (clipped; ints snapped); each
        categorical block switches to another choice with probability ``1 / n_blocks``.

        Args:
            x: ``(dim,)`` valid vector.
            rng: the only source of randomness.
            count: number of vectors to return.
            sigma: standard deviation of the steps, as a fraction of the unit range.

        Returns:
            ``(count, dim)`` array.
        """
        base = np.tile(np.asarray(x, dtype=float).reshape(1, self.dim), (count, 1))
        numeric = self.cont_dims + self.int_dims
        if numeric:
            base[:, numeric] += sigma * rng.standard_normal((count, len(numeric)))
        rows = np.arange(count)
        for start, width in self.cat_blocks:
            flip = rng.random(count) < 1.0 / len(self.cat_blocks)
            current = np.argmax(base[:, start : start + width], axis=1)
            moved = np.mod(current + rng.integers(1, width, size=count), width)
            code = np.where(flip, moved, current)
            base[:, start : start + width] = 0.0
            base[rows, start + code] = 1.0
        return self.snap(base)
