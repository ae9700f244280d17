"""Pure table builders: from a plan and value pools to DataFrames, no I/O.

Each source row is a function of (table, entity, version): the entity is the key, the
version says which batch changed it last. A batch's rows are `spark.range` over the
batch's row indices; index -> entity and version comes from the plan (new keys first,
then updates that pick earlier keys through a bijection, so no key is updated twice in a
batch). Exact duplicates and late (stale) copies are extra ranges over the arithmetic
positions the plan chose, so the manifest is built from those positions alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F  # noqa: N812  (the Spark convention)

from datagen import exprs as ex
from datagen import pools as pool_values
from datagen.plan import DRIFT_COLUMN, DRIFT_TABLE, DatasetPlan, TablePlan
from lakelab.sources import DirtyKind

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from datagen.pools import Pools

# Kinds whose base row renders clean (the dirt is the extra copy).
_COPY_KINDS = (DirtyKind.EXACT_DUPLICATE.value, DirtyKind.LATE_UPDATE.value)
# Generic columns every builder reads (see `_Builder.attach`).
OB, CREATED, UPDATED = "_origin_batch", "_created_s", "_updated_s"
# A key no batch ever delivers: entity numbers from here on do not exist.
UNKNOWN_ENTITY_BASE = 10**12
WRONG_TYPE_TEXT = "12,5O"


@dataclass(frozen=True)
class BuildContext:
    """Everything a builder needs: the plan, and the pools as a one-row frame of arrays."""

    plan: DatasetPlan
    pools: Pools
    pool_arrays: dict[str, Column]
    # Per-table column expressions, built once per run (see `_table_columns`).
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def pool(self, name: str) -> ex.PoolRef:
        """A pool by name (see `Pools.by_name`)."""
        return ex.PoolRef(name, len(self.pools.by_name()[name]), self.pool_arrays[name])

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.plan.config.seed

    @property
    def start_seconds(self) -> int:
        """Start of the date range, epoch seconds (UTC midnight)."""
        start = self.plan.config.start_date
        return int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())

    @property
    def span_seconds(self) -> int:
        """Length of the date range (end date inclusive)."""
        end = self.plan.config.end_date + dt.timedelta(days=1)
        return int(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()) - self.start_seconds

    @property
    def years(self) -> float:
        """Length of the date range in years (for seasonality)."""
        return self.span_seconds / (365.25 * 86400)


def build_context(spark: SparkSession, plan: DatasetPlan, pools: Pools) -> BuildContext:
    """The context for `plan`: each pool becomes one constant array expression."""
    arrays = {name: ex.pool_array(values) for name, values in pools.by_name().items()}
    return BuildContext(plan, pools, arrays)


@dataclass(frozen=True)
class Row:
    """The columns every builder starts from."""

    e: Column  # entity number (the key before formatting)
    v: Column  # version: 0 for the first delivery, b for an update in batch b
    ob: Column  # origin batch: where the entity was first delivered
    src: Column  # the batch whose plan produced this row (differs for late copies)
    created_s: Column  # epoch seconds
    updated_s: Column  # epoch seconds
    fault: Column  # DirtyKind value to apply to this row, or null


@dataclass(frozen=True)
class Faults:
    """How one table carries each kind of dirt."""

    missing: str  # a required, non-key field set to null
    out_of_range: tuple[str, Column] | None = None
    unknown_fk: tuple[str, Column] | None = None
    wrong_type: tuple[str, Column | None] | None = None  # (field, text value for string columns)


def _arr(values: list[int] | list[float]) -> Column:
    return F.array(*[F.lit(value) for value in values])


def _at(values: list[int] | list[float], index: Column) -> Column:
    return F.element_at(_arr(values), (index + 1).cast("int"))


class _Builder:
    """Index frames and generic columns for one table."""

    def __init__(self, spark: SparkSession, ctx: BuildContext, tplan: TablePlan) -> None:
        self.spark = spark
        self.ctx = ctx
        self.tplan = tplan
        self.seed = ctx.seed
        self.salt = tplan.name

    # --- index frames -------------------------------------------------------------
    def _range(self, count: int, partitions: int = 1) -> DataFrame:
        return self.spark.range(0, count, 1, max(1, partitions))

    def _entity(self, batch: int, i: Column) -> tuple[Column, Column]:
        bp = self.tplan.batches[batch]
        off = max(1, bp.entity_offset)
        update = F.pmod(
            (i - F.lit(bp.new_rows)) * F.lit(bp.update_stride) + F.lit(bp.update_shift), F.lit(off)
        )
        e = F.when(i < F.lit(bp.new_rows), F.lit(bp.entity_offset) + i).otherwise(update)
        v = F.when(i < F.lit(bp.new_rows), F.lit(0)).otherwise(F.lit(batch))
        return e.cast("long"), v.cast("int")

    def _kind_of(self, batch: int, j: Column) -> Column:
        dirty = self.tplan.batches[batch].dirty
        kinds = [k.value for k in dirty.kinds]
        return F.element_at(
            F.array(*[F.lit(k) for k in kinds]),
            (F.pmod(j + F.lit(dirty.kind_shift), F.lit(len(kinds))) + 1).cast("int"),
        )

    def _positions(self, batch: int, kind: DirtyKind | None) -> DataFrame:
        """Indices of the dirty rows of `batch` (all, or of one kind), with their kind."""
        bp = self.tplan.batches[batch]
        dirty = bp.dirty
        if kind is None:
            count, first, step = dirty.count(bp.base_rows), 0, 1
        else:
            count, first, step = dirty.count_of(kind, bp.base_rows), dirty.kind_start(kind), len(dirty.kinds)
        j = F.lit(first) + F.col("id") * F.lit(step)
        return self._range(count).select(
            (F.lit(dirty.offset) + j * F.lit(dirty.every)).alias("i"), self._kind_of(batch, j).alias("kind")
        )

    def _with_entity(self, frame: DataFrame, batch: int, fault: Column, stale: bool) -> DataFrame:
        e, v = self._entity(batch, F.col("i"))
        return frame.select(
            F.col("i"),
            F.lit(batch).alias("src"),
            e.alias("e"),
            v.alias("v"),
            fault.alias("fault"),
            F.lit(stale).alias("stale"),
            F.col("kind").alias("kind")
            if "kind" in frame.columns
            else F.lit(None).cast("string").alias("kind"),
        )

    def batch_index(self, batch: int) -> DataFrame:
        """Every row landing in `batch`: base rows, exact duplicates, late copies."""
        bp = self.tplan.batches[batch]
        partitions = max(self.spark.sparkContext.defaultParallelism, -(-bp.base_rows // 4_000_000))
        base = self._range(bp.base_rows, partitions).select(F.col("id").alias("i"))
        dirty = bp.dirty
        if dirty.every > 0:
            j = F.floor((F.col("i") - F.lit(dirty.offset)) / F.lit(dirty.every))
            is_dirty = F.pmod(F.col("i") - F.lit(dirty.offset), F.lit(dirty.every)) == 0
            base = base.withColumn("kind", F.when(is_dirty, self._kind_of(batch, j)))
        else:
            base = base.withColumn("kind", F.lit(None).cast("string"))
        fault = F.when(~F.col("kind").isin(*_COPY_KINDS), F.col("kind"))
        frames = [self._with_entity(base, batch, fault, stale=False)]
        dups = self._positions(batch, DirtyKind.EXACT_DUPLICATE)
        frames.append(self._with_entity(dups, batch, F.lit(None).cast("string"), stale=False))
        for source in bp.stale_from:
            late = self._positions(source, DirtyKind.LATE_UPDATE)
            frames.append(self._with_entity(late, source, F.lit(DirtyKind.LATE_UPDATE.value), stale=True))
        result = frames[0]
        for frame in frames[1:]:
            result = result.unionByName(frame)
        return self.attach(result)

    def manifest_index(self, batch: int) -> DataFrame:
        """The dirty rows planted by `batch`'s plan, with the batch where each lands."""
        last = self.ctx.plan.config.batches
        frame = self._positions(batch, None)
        landing = F.when(
            (F.col("kind") == DirtyKind.LATE_UPDATE.value) & F.lit(batch < last), F.lit(batch + 1)
        ).otherwise(F.lit(batch))
        fault = F.col("kind")
        indexed = self._with_entity(frame, batch, fault, stale=False)
        return indexed.withColumn("stale", F.col("kind") == DirtyKind.LATE_UPDATE.value).withColumn(
            "landing_batch", landing
        )

    # --- generic columns --------------------------------------------------------
    def _time_columns(self) -> tuple[Column, Column, Column]:
        """Origin batch, creation and last-change seconds, from `e`, `v` and `stale`."""
        plan = self.ctx.plan
        batches = self.tplan.batches
        e, v = F.col("e"), F.col("v")
        ob: Column = F.lit(len(batches) - 1)
        for bp in reversed(batches[:-1]):
            ob = F.when(e < F.lit(bp.entity_offset + bp.new_rows), F.lit(bp.batch)).otherwise(ob)
        starts = [0.0, *plan.batch_fractions[:-1]]
        ends = list(plan.batch_fractions)
        offsets = [bp.entity_offset for bp in batches]
        news = [max(1, bp.new_rows) for bp in batches]
        obc = F.col(OB)
        position = (e - _at(offsets, obc) + self.u("created", e)) / _at(news, obc)
        fraction = _at(starts, obc) + position * (_at(ends, obc) - _at(starts, obc))
        start, span = self.ctx.start_seconds, self.ctx.span_seconds

        def seconds(fraction: Column) -> Column:
            return F.lit(start) + F.floor(ex.seasonal(fraction, self.ctx.years) * F.lit(span)).cast("long")

        created = F.col(CREATED)
        window_start = seconds(_at(starts, v))
        window_end = seconds(_at(ends, v))
        first_version = created + F.lit(60) + F.floor(self.u("upd0", e) * 3540).cast("long")
        later_version = (
            window_start
            + F.lit(3601)
            + F.floor(
                self.u("upd", e, v) * F.greatest(window_end - window_start - F.lit(3601), F.lit(0))
            ).cast("long")
        )
        updated = F.when(v == 0, first_version).otherwise(later_version)
        updated = F.when(F.col("stale"), created + F.floor((updated - created) / 2).cast("long")).otherwise(
            updated
        )
        return ob, seconds(fraction), updated

    def attach(self, index: DataFrame) -> DataFrame:
        """The generic columns, each computed once per row.

        Separate projections on purpose: Spark does not merge a projection into the next
        when that would repeat a costly expression, so the hashes behind the timestamps
        run once per row however many output fields use them.
        """
        if "time_columns" not in self.ctx.cache.setdefault(self.tplan.name + ":time", {}):
            self.ctx.cache[self.tplan.name + ":time"]["time_columns"] = self._time_columns()
        ob, created, updated = self.ctx.cache[self.tplan.name + ":time"]["time_columns"]
        attached = (
            index.select("*", ob.alias(OB))
            .select("*", created.alias(CREATED))
            .select("*", updated.alias(UPDATED))
        )
        staged = STAGED.get(self.tplan.name)
        if staged is None:
            return attached
        return attached.select("*", *[c.alias(name) for name, c in staged(self, self.row()).items()])

    def row(self) -> Row:
        """The generic columns as the builders see them (after `attach`)."""
        return Row(
            F.col("e"), F.col("v"), F.col(OB), F.col("src"), F.col(CREATED), F.col(UPDATED), F.col("fault")
        )

    def u(self, salt: str, *cols: Column) -> Column:
        """A uniform in [0, 1) for this table and `salt`."""
        return ex.uniform(self.seed, f"{self.salt}:{salt}", *cols)

    def pick(self, pool: ex.PoolRef, salt: str, *cols: Column) -> Column:
        """A pool value for this table and `salt`."""
        return ex.pick(pool, self.seed, f"{self.salt}:{salt}", *cols)

    def parent(self, parent_name: str, row: Row, salt: str, power: float = 1.0) -> Column:
        """An entity of `parent_name` delivered no later than this row's origin batch."""
        parent = self.ctx.plan.table(parent_name)
        through = [max(1, parent.entities_through(bp.batch)) for bp in parent.batches]
        n = _at(through, row.ob).cast("long")
        return ex.skewed_index(n, power, self.seed, f"{self.salt}:{salt}", row.e)


# --- shared entity attributes (used by more than one table) ---------------------------


def account_company_index(ctx: BuildContext, account: Column) -> Column:
    """Which company pool entry account `account` is (customers of it share the name)."""
    return ex.pick_index(ctx.pool("companies").size, ctx.seed, "account:company", account)


def account_name(ctx: BuildContext, account: Column) -> Column:
    """The account's company name."""
    return ex.pool_at(ctx.pool("companies"), account_company_index(ctx, account))


def account_has_external_id(ctx: BuildContext, account: Column) -> Column:
    """Nine in ten accounts carry External_Id__c."""
    return ex.uniform(ctx.seed, "account:ext", account) < 0.9


def account_external_id(account: Column) -> Column:
    """External_Id__c of an account."""
    return F.concat(F.lit("EXT-"), F.lpad(account.cast("string"), 10, "0"))


def product_price(ctx: BuildContext, product: Column, version: Column) -> Column:
    """Unit price of a product version, 2 decimals (prices rise 3% per update)."""
    base = ex.lognormal(3.5, 1.0, ctx.seed, "products:price", product) + F.lit(0.99)
    return F.round(base * F.pow(F.lit(1.03), version), 2)


# --- the nine tables ---------------------------------------------------------------


def _apply_faults(columns: dict[str, Column], fault: Column, faults: Faults, json: bool) -> dict[str, Column]:
    out = dict(columns)

    def when_fault(kind: DirtyKind, field: str, value: Column) -> None:
        out[field] = F.when(fault == kind.value, value).otherwise(out[field])

    when_fault(DirtyKind.MISSING_REQUIRED, faults.missing, F.lit(None))
    if faults.out_of_range:
        when_fault(DirtyKind.OUT_OF_RANGE, *faults.out_of_range)
    if faults.unknown_fk:
        when_fault(DirtyKind.UNKNOWN_FOREIGN_KEY, *faults.unknown_fk)
    if faults.wrong_type and not json:
        field, text = faults.wrong_type
        assert text is not None
        when_fault(DirtyKind.WRONG_TYPE, field, text)
    return out


def _detail(faults: Faults) -> Column:
    """A readable reason per kind, for the manifest."""
    detail = (
        F.when(F.col("kind") == DirtyKind.MISSING_REQUIRED.value, F.lit(f"{faults.missing} is null"))
        .when(F.col("kind") == DirtyKind.EXACT_DUPLICATE.value, F.lit("row delivered twice in the batch"))
        .when(F.col("kind") == DirtyKind.MALFORMED_JSON.value, F.lit("JSON line truncated"))
        .when(
            F.col("kind") == DirtyKind.LATE_UPDATE.value,
            F.concat(
                F.lit("older version delivered after the version of batch "), F.col("src").cast("string")
            ),
        )
    )
    if faults.out_of_range:
        field, value = faults.out_of_range
        detail = detail.when(
            F.col("kind") == DirtyKind.OUT_OF_RANGE.value,
            F.concat(F.lit(f"{field} = "), value.cast("string")),
        )
    if faults.unknown_fk:
        field, value = faults.unknown_fk
        detail = detail.when(
            F.col("kind") == DirtyKind.UNKNOWN_FOREIGN_KEY.value,
            F.concat(F.lit(f"{field} = "), value.cast("string")),
        )
    if faults.wrong_type:
        field, _ = faults.wrong_type
        detail = detail.when(F.col("kind") == DirtyKind.WRONG_TYPE.value, F.lit(f"{field} is text"))
    return detail


TableSpec = Callable[[_Builder, Row], tuple[dict[str, Column], Faults]]


def _audit(row: Row, b: _Builder) -> dict[str, Column]:
    return {
        "CreatedDate": ex.sf_datetime(row.created_s),
        "LastModifiedDate": ex.sf_datetime(row.updated_s),
        "IsDeleted": b.u("deleted", row.e, row.v) < 0.005,
    }


def _account(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    country = ex.pick_index(len(pool_values.COUNTRIES), b.seed, "account:country", e)
    revenue = F.round(ex.lognormal(15.0, 1.5, b.seed, "account:revenue", e) * (F.lit(1.0) + v * 0.05), 2)
    columns = {
        "Id": ex.sf_id("001", e),
        "Name": F.concat(account_name(ctx, e), b.pick(ctx.pool("account_suffixes"), "suffix", e)),
        "Industry": F.when(b.u("industry_null", e) >= 0.03, b.pick(ctx.pool("industries"), "industry", e)),
        "Type": b.pick(ctx.pool("account_types"), "type", e, v),
        "BillingCountry": ex.pool_at(ctx.pool("country_names"), country),
        "BillingCity": b.pick(ctx.pool("cities"), "city", e),
        "AnnualRevenue": revenue,
        "NumberOfEmployees": (F.floor(ex.lognormal(4.0, 1.3, b.seed, "account:employees", e)) + 1).cast(
            "long"
        ),
        "Website": F.concat(
            F.lit("https://www."), ex.pool_at(ctx.pool("domains"), account_company_index(ctx, e))
        ),
        "External_Id__c": F.when(account_has_external_id(ctx, e), account_external_id(e)),
        **_audit(row, b),
    }
    faults = Faults(
        missing="Name",
        out_of_range=("NumberOfEmployees", F.lit(-250).cast("long")),
        wrong_type=("AnnualRevenue", None),
    )
    return columns, faults


def _contact(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    account = b.parent("crm.account", row, "account", power=1.3)
    first = b.pick(ctx.pool("first_names"), "first", e)
    last = b.pick(ctx.pool("last_names"), "last", e)
    domain = ex.pool_at(ctx.pool("domains"), account_company_index(ctx, account))
    local = F.translate(F.lower(F.concat(first, F.lit("."), last)), "' -", "")
    columns = {
        "Id": ex.sf_id("003", e),
        "AccountId": ex.sf_id("001", account),
        "FirstName": first,
        "LastName": last,
        "Email": F.concat(local, F.lit("@"), domain),
        "Phone": F.when(b.u("phone_null", e) >= 0.1, b.pick(ctx.pool("phones"), "phone", e)),
        "Title": b.pick(ctx.pool("titles"), "title", e, v),
        "LeadSource": b.pick(ctx.pool("lead_sources"), "lead", e),
        **_audit(row, b),
    }
    faults = Faults(
        missing="LastName",
        unknown_fk=("AccountId", ex.sf_id("001", F.lit(UNKNOWN_ENTITY_BASE) + e)),
    )
    return columns, faults


def _campaign(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    ctype = b.pick(ctx.pool("campaign_types"), "type", e)
    start = row.created_s + F.floor(b.u("start", e) * 30 * 86400).cast("long")
    end = start + (F.lit(7) + F.floor(b.u("length", e) * 84)).cast("long") * 86400
    budget = F.round(ex.lognormal(9.0, 1.0, b.seed, "campaign:budget", e), 2)
    columns = {
        "Id": ex.sf_id("701", e),
        "Name": F.concat(
            F.year(F.timestamp_seconds(start)).cast("string"),
            F.lit(" "),
            ctype,
            F.lit(" - "),
            b.pick(ctx.pool("campaign_words"), "name", e),
        ),
        "Type": ctype,
        "Status": ex.pool_at(
            ctx.pool("campaign_statuses"),
            F.least(v + ex.pick_index(2, b.seed, "campaign:status", e), F.lit(2)),
        ),
        "StartDate": ex.iso_date(start),
        "EndDate": ex.iso_date(end),
        "BudgetedCost": budget,
        "ActualCost": F.round(budget * (F.lit(0.6) + b.u("actual", e, v) * 0.6), 2),
        **_audit(row, b),
    }
    faults = Faults(
        missing="Name",
        out_of_range=("BudgetedCost", -budget),
        wrong_type=("BudgetedCost", None),
    )
    return columns, faults


def _campaign_member(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    campaign = b.parent("crm.campaign", row, "campaign", power=1.5)
    contact = b.parent("crm.contact", row, "contact")
    status = F.least(v + ex.pick_index(3, b.seed, "member:status", e), F.lit(2))
    columns = {
        "Id": ex.sf_id("00v", e),
        "CampaignId": ex.sf_id("701", campaign),
        "ContactId": ex.sf_id("003", contact),
        "Status": ex.pool_at(ctx.pool("member_statuses"), status),
        # The touch: the day the contact engaged, the membership's creation day.
        "FirstRespondedDate": ex.iso_date(row.created_s),
        **_audit(row, b),
    }
    faults = Faults(
        missing="CampaignId",
        out_of_range=("FirstRespondedDate", F.lit("2999-01-01")),
        unknown_fk=("ContactId", ex.sf_id("003", F.lit(UNKNOWN_ENTITY_BASE) + e)),
    )
    return columns, faults


def _opportunity(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    account = b.parent("crm.account", row, "account", power=1.5)
    campaign = b.parent("crm.campaign", row, "campaign", power=1.5)
    stage = F.least(ex.pick_index(5, b.seed, "opp:stage", e) + v, F.lit(5))
    closed = F.when(b.u("won", e) < 0.4, F.lit(5)).otherwise(F.lit(6))
    stage = F.when(stage >= 5, closed).otherwise(stage)
    probability = _at([10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 0.0], stage)
    close = row.created_s + (F.lit(14) + F.floor(b.u("close", e) * 166)).cast("long") * 86400
    columns = {
        "Id": ex.sf_id("006", e),
        "AccountId": ex.sf_id("001", account),
        "Name": F.concat(account_name(ctx, account), F.lit(" - "), b.pick(ctx.pool("products"), "name", e)),
        "StageName": ex.pool_at(ctx.pool("stages"), stage),
        "Amount": F.round(ex.lognormal(10.0, 1.2, b.seed, "opp:amount", e), 2),
        "CurrencyIsoCode": ex.pool_at(
            ctx.pool("currencies"),
            F.least(ex.skewed_index(F.lit(5).cast("long"), 3.0, b.seed, "opp:cur", e), F.lit(4)),
        ),
        "CloseDate": ex.iso_date(close),
        "LeadSource": b.pick(ctx.pool("lead_sources"), "lead", e),
        "CampaignId": F.when(b.u("has_campaign", e) < 0.7, ex.sf_id("701", campaign)),
        "Probability": probability,
        **_audit(row, b),
    }
    faults = Faults(
        missing="StageName",
        out_of_range=("CloseDate", F.lit("2999-12-31")),
        unknown_fk=("AccountId", ex.sf_id("001", F.lit(UNKNOWN_ENTITY_BASE) + e)),
        wrong_type=("Amount", None),
    )
    return columns, faults


def _customers(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    account = b.parent("crm.account", row, "account")
    mapped = (b.u("mapped", e) < 0.85) & account_has_external_id(ctx, account)
    country = ex.pick_index(len(pool_values.COUNTRIES), b.seed, "customers:country", e)
    code = ex.pool_at(ctx.pool("country_codes"), country)
    first = b.pick(ctx.pool("first_names"), "first", e)
    last = b.pick(ctx.pool("last_names"), "last", e)
    domain = F.when(mapped, ex.pool_at(ctx.pool("domains"), account_company_index(ctx, account))).otherwise(
        b.pick(ctx.pool("domains"), "domain", e)
    )
    columns = {
        "CUSTOMER_ID": (e + 1).cast("long"),
        "CUSTOMER_NAME": F.when(mapped, account_name(ctx, account)).otherwise(
            b.pick(ctx.pool("companies"), "name", e)
        ),
        "EMAIL": F.concat(F.lower(F.concat(first, F.lit("."), last)), F.lit("@"), domain),
        # Mixed case in the wild: one in twenty codes arrives in lower case.
        "COUNTRY_CODE": F.when(b.u("lower", e) < 0.05, F.lower(code)).otherwise(code),
        "REGION": ex.pool_at(ctx.pool("country_regions"), country),
        "SEGMENT": ex.pool_at(
            ctx.pool("segments"),
            ex.skewed_index(F.lit(3).cast("long"), 0.5, b.seed, "customers:segment", e, v),
        ),
        "CRM_ACCOUNT_EXTERNAL_ID": F.when(mapped, account_external_id(account)),
        "CREATED_AT": F.timestamp_seconds(row.created_s),
        "UPDATED_AT": F.timestamp_seconds(row.updated_s),
    }
    faults = Faults(
        missing="CUSTOMER_NAME",
        # 2999-12-31, the sentinel date of many a source system.
        out_of_range=("CREATED_AT", F.timestamp_seconds(F.lit(32503593600) + F.pmod(row.e, F.lit(86400)))),
    )
    return columns, faults


def _products(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    price = product_price(ctx, e, v)
    columns = {
        "PRODUCT_ID": (e + 1).cast("long"),
        "PRODUCT_NAME": F.concat(b.pick(ctx.pool("products"), "name", e), F.lit(" "), (e + 1).cast("string")),
        "CATEGORY": b.pick(ctx.pool("product_categories"), "category", e),
        "UNIT_PRICE": price.cast("decimal(12,2)"),
        "CURRENCY": F.lit("USD"),
        "UPDATED_AT": F.timestamp_seconds(row.updated_s),
    }
    faults = Faults(missing="PRODUCT_NAME", out_of_range=("UNIT_PRICE", (-price).cast("decimal(12,2)")))
    return columns, faults


def _orders(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    ctx, e, v = b.ctx, row.e, row.v
    # A few customers place most orders: u**4 puts half the orders on the first ~6% of them.
    customer = b.parent("snowflake.customers", row, "customer", power=4.0)
    status = F.when(v == 0, F.lit(0)).otherwise(
        F.when(b.u("end", e) < 0.06, F.lit(3))
        .when(b.u("end", e) < 0.1, F.lit(4))
        .otherwise(F.least(v, F.lit(2)))
    )
    total = F.round(ex.lognormal(4.5, 1.0, b.seed, "orders:total", e) + F.lit(1.0), 2)
    columns = {
        "ORDER_ID": (e + 1).cast("long"),
        "CUSTOMER_ID": (customer + 1).cast("long"),
        "ORDER_TS": F.timestamp_seconds(row.created_s),
        "STATUS": ex.pool_at(ctx.pool("order_statuses"), status),
        "CHANNEL": ex.pool_at(
            ctx.pool("channels"), ex.skewed_index(F.lit(4).cast("long"), 1.8, b.seed, "orders:channel", e)
        ),
        "CURRENCY": ex.pool_at(
            ctx.pool("currencies"), ex.skewed_index(F.lit(5).cast("long"), 3.0, b.seed, "orders:cur", e)
        ),
        "ORDER_TOTAL": total.cast("decimal(18,2)"),
        "UPDATED_AT": F.timestamp_seconds(row.updated_s),
    }
    faults = Faults(
        missing="ORDER_TS",
        out_of_range=("ORDER_TOTAL", (-total).cast("decimal(18,2)")),
        unknown_fk=("CUSTOMER_ID", (F.lit(UNKNOWN_ENTITY_BASE) + e).cast("long")),
    )
    return columns, faults


def order_of_line(ctx: BuildContext, line: Column, line_batch: Column) -> tuple[Column, Column]:
    """(order entity, 1-based line number) of an order_lines entity.

    The new lines of a batch are spread evenly over the new orders of the same batch:
    line j of the batch belongs to order floor(j * orders / lines), so every order has
    floor or ceil(lines/orders) lines and never points to an order of a later batch.
    """
    lines = ctx.plan.table("snowflake.order_lines").batches
    orders = ctx.plan.table("snowflake.orders").batches
    line_off = _at([bp.entity_offset for bp in lines], line_batch)
    line_new = _at([max(1, bp.new_rows) for bp in lines], line_batch)
    order_off = _at([bp.entity_offset for bp in orders], line_batch)
    order_new = _at([max(1, bp.new_rows) for bp in orders], line_batch)
    j = line - line_off
    k = F.floor(j * order_new / line_new).cast("long")
    first = F.floor((k * line_new + order_new - 1) / order_new).cast("long")
    return (order_off + k).cast("long"), (j - first + 1).cast("long")


def _order_lines_staged(b: _Builder, row: Row) -> dict[str, Column]:
    product = b.parent("snowflake.products", row, "product", power=2.0)
    return {
        "_product": product,
        "_quantity": (F.floor(ex.lognormal(0.3, 0.8, b.seed, "lines:qty", row.e, row.v)) + 1).cast("long"),
        "_price": product_price(b.ctx, product, F.lit(0)),
    }


def _order_lines(b: _Builder, row: Row) -> tuple[dict[str, Column], Faults]:
    e = row.e
    order, line_number = order_of_line(b.ctx, e, row.ob)
    product, quantity, price = F.col("_product"), F.col("_quantity"), F.col("_price")
    columns = {
        "ORDER_ID": (order + 1).cast("string"),
        "LINE_NUMBER": line_number.cast("string"),
        "PRODUCT_ID": (product + 1).cast("string"),
        "QUANTITY": quantity.cast("string"),
        # Through decimal: plain "12.50", no exponent, no thousands separator.
        "UNIT_PRICE": price.cast("decimal(12,2)").cast("string"),
        "LINE_AMOUNT": (price * quantity).cast("decimal(14,2)").cast("string"),
        "UPDATED_AT": F.date_format(F.timestamp_seconds(row.updated_s), "yyyy-MM-dd HH:mm:ss"),
    }
    faults = Faults(
        missing="QUANTITY",
        out_of_range=("QUANTITY", (-quantity).cast("string")),
        unknown_fk=("PRODUCT_ID", (F.lit(UNKNOWN_ENTITY_BASE) + e).cast("string")),
        wrong_type=("QUANTITY", F.lit("two")),
    )
    return columns, faults


# Per-row values a table uses several times, computed once in a projection of their own.
STAGED: dict[str, Callable[[_Builder, Row], dict[str, Column]]] = {
    "snowflake.order_lines": _order_lines_staged,
}


TABLE_SPECS: dict[str, TableSpec] = {
    "crm.account": _account,
    "crm.contact": _contact,
    "crm.campaign": _campaign,
    "crm.campaign_member": _campaign_member,
    "crm.opportunity": _opportunity,
    "snowflake.customers": _customers,
    "snowflake.products": _products,
    "snowflake.orders": _orders,
    "snowflake.order_lines": _order_lines,
}

FAULT_COLUMN = "_fault"


def _key_string(tplan: TablePlan, columns: dict[str, Column]) -> Column:
    return F.concat_ws("|", *[columns[k].cast("string") for k in tplan.table.key])


def _table_columns(
    spark: SparkSession, ctx: BuildContext, table: str
) -> tuple[_Builder, Row, dict[str, Column], Faults]:
    """The clean columns of `table`, built once per run: they do not depend on the batch
    (the batch only changes the index frame under them), and building them costs a py4j
    round trip per expression node."""
    if table not in ctx.cache:
        tplan = ctx.plan.table(table)
        builder = _Builder(spark, ctx, tplan)
        row = builder.row()
        columns, faults = TABLE_SPECS[table](builder, row)
        ctx.cache[table] = (builder, row, columns, faults)
    cached: tuple[_Builder, Row, dict[str, Column], Faults] = ctx.cache[table]
    return cached


def build_batch(spark: SparkSession, ctx: BuildContext, table: str, batch: int) -> DataFrame:
    """Every row of `table` landing in `batch`, in the contract's columns and types.

    An extra `_fault` column names the dirt the writer still has to apply (malformed
    JSON, text in a numeric JSON field); the writer drops it.
    """
    builder, row, clean, faults = _table_columns(spark, ctx, table)
    tplan = builder.tplan
    columns = _apply_faults(clean, row.fault, faults, json=tplan.table.format == "json")
    selected = [columns[f.name].cast(f.type).alias(f.name) for f in tplan.table.fields]
    if table == DRIFT_TABLE and batch == ctx.plan.drift_batch:
        selected.append(builder.pick(ctx.pool("ratings"), "rating", row.e, row.v).alias(DRIFT_COLUMN))
    return builder.batch_index(batch).select(*selected, row.fault.alias(FAULT_COLUMN))


def build_manifest(spark: SparkSession, ctx: BuildContext) -> DataFrame:
    """One row per dirty record: table, batch, key, kind, detail (the contract's manifest)."""
    frames = []
    if ctx.plan.drift_batch is not None:
        frames.append(
            spark.range(1).select(
                F.lit(DRIFT_TABLE).alias("table"),
                F.lit(ctx.plan.drift_batch).cast("int").alias("batch"),
                F.lit("*").alias("key"),
                F.lit(DirtyKind.SCHEMA_DRIFT.value).alias("kind"),
                F.lit(f"added column {DRIFT_COLUMN} (string)").alias("detail"),
            )
        )
    for tplan in ctx.plan.tables:
        builder, _row, columns, faults = _table_columns(spark, ctx, tplan.name)
        index = builder.manifest_index(0)
        for bp in tplan.batches[1:]:
            index = index.unionByName(builder.manifest_index(bp.batch))
        frame = builder.attach(index).select(
            F.lit(tplan.name).alias("table"),
            F.col("landing_batch").cast("int").alias("batch"),
            _key_string(tplan, columns).alias("key"),
            F.col("kind").alias("kind"),
            _detail(faults).alias("detail"),
        )
        frames.append(frame)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result
