"""The regions a scenario spans and the time window it is anchored on.

Region codes are real prefecture-level administrative codes (GB/T 2260) so that resident ID
numbers, plates and addresses generated for a region look like that region's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from queries.model import SOURCE_KINDS

CANONICAL = "canonical"
GBK = "gbk"
COLUMNAR = "columnar"
DIALECTS = (CANONICAL, GBK, COLUMNAR)

SOURCES = SOURCE_KINDS
LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai has been UTC+8 without DST since 1991
PERIOD_DAYS = 28


@dataclass(frozen=True)
class Region:
    """One jurisdiction: its code, names, districts, plate prefix and map centre."""

    code: str
    name: str
    province: str
    plate_prefix: str
    districts: tuple[tuple[str, str], ...]
    lat: float
    lon: float


CATALOG: tuple[Region, ...] = (
    Region("330100", "杭州市", "浙江省", "浙A",
           (("330102", "上城区"), ("330105", "拱墅区"), ("330106", "西湖区"),
            ("330108", "滨江区"), ("330109", "萧山区"), ("330110", "余杭区")), 30.274, 120.155),
    Region("440300", "深圳市", "广东省", "粤B",
           (("440303", "罗湖区"), ("440304", "福田区"), ("440305", "南山区"),
            ("440306", "宝安区"), ("440307", "龙岗区")), 22.543, 114.058),
    Region("510100", "成都市", "四川省", "川A",
           (("510104", "锦江区"), ("510105", "青羊区"), ("510106", "金牛区"),
            ("510107", "武侯区"), ("510108", "成华区")), 30.573, 104.066),
    Region("320100", "南京市", "江苏省", "苏A",
           (("320102", "玄武区"), ("320104", "秦淮区"), ("320105", "建邺区"),
            ("320106", "鼓楼区")), 32.060, 118.797),
    Region("420100", "武汉市", "湖北省", "鄂A",
           (("420102", "江岸区"), ("420103", "江汉区"), ("420106", "武昌区"),
            ("420111", "洪山区")), 30.593, 114.305),
    Region("610100", "西安市", "陕西省", "陕A",
           (("610102", "新城区"), ("610103", "碑林区"), ("610104", "莲湖区"),
            ("610113", "雁塔区")), 34.341, 108.940),
    Region("370200", "青岛市", "山东省", "鲁B",
           (("370202", "市南区"), ("370203", "市北区"), ("370211", "黄岛区"),
            ("370212", "崂山区")), 36.067, 120.383),
    Region("430100", "长沙市", "湖南省", "湘A",
           (("430102", "芙蓉区"), ("430103", "天心区"), ("430104", "岳麓区"),
            ("430105", "开福区")), 28.228, 112.939),
    Region("350200", "厦门市", "福建省", "闽D",
           (("350203", "思明区"), ("350205", "海沧区"), ("350206", "湖里区"),
            ("350211", "集美区")), 24.480, 118.089),
    Region("340100", "合肥市", "安徽省", "皖A",
           (("340102", "瑶海区"), ("340103", "庐阳区"), ("340104", "蜀山区"),
            ("340111", "包河区")), 31.821, 117.227),
)
MAX_REGIONS = len(CATALOG)


def pick_regions(n: int) -> list[Region]:
    """The first ``n`` regions of the catalogue (3 <= n <= MAX_REGIONS)."""
    if not 3 <= n <= MAX_REGIONS:
        raise ValueError(f"--regions must be between 3 and {MAX_REGIONS}, got {n}")
    return list(CATALOG[:n])


def dialect_of(index: int) -> str:
    """The file dialect of the region at ``index``: canonical, gbk, columnar, repeating."""
    return DIALECTS[index % len(DIALECTS)]


@dataclass(frozen=True)
class Period:
    """The scenario's time window: PERIOD_DAYS local days starting at local midnight."""

    start_day: date

    @property
    def start_utc(self) -> int:
        """Epoch seconds (UTC) of local midnight on the first day."""
        midnight = datetime(self.start_day.year, self.start_day.month, self.start_day.day,
                            tzinfo=UTC)
        return int(midnight.timestamp()) - LOCAL_OFFSET_S

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return PERIOD_DAYS

    def day_start(self, day: int) -> int:
        """Epoch seconds of local midnight of ``day`` (0-based)."""
        return self.start_utc + day * 86400

    def weekday(self, day: int) -> int:
        """Weekday of ``day`` (Monday 0)."""
        return (self.start_day + timedelta(days=day)).weekday()

    @property
    def reference(self) -> str:
        """The ISO date the scenario is anchored on (the last day of the window)."""
        return (self.start_day + timedelta(days=PERIOD_DAYS - 1)).isoformat()


def period_for_seed(seed: int) -> Period:
    """A Monday-started window in 2024, derived from the seed alone (never the wall clock)."""
    first_monday = date(2024, 1, 1)  # a Monday
    weeks = (seed * 7919) % 44
    return Period(first_monday + timedelta(weeks=weeks))
