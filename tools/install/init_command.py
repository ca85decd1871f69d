"""``tillgw init``: set a till up — ask (or take from flags) who the shop is, which register
this is, where its devices are (found and checked by the probes of ``tillgw diag``), its
broker and its ERP — and write a commented ``till.toml`` that the till's own reader loads.

On a terminal it asks what no flag says; without one (a script, an installer) it asks
nothing, and an error names every flag that is missing. It never overwrites a file
unless ``--force`` says so, and it writes nothing that :func:`gateway.config.load_config`
(and, with ``[sync]``, :func:`gateway.sync.config.load_sync_config`) refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from gateway.common.i18n import DEFAULT_LANGUAGE, tr, use_language
from gateway.config import ConfigError, load_config
from gateway.devices.control_units.kinds import CREDENTIAL_SETTINGS, kind_of
from gateway.sync.config import load_sync_config
from tools.install import probing
from tools.install.answers import (
    ERP_CHOICES,
    ERP_QUESTIONS,
    SIMULATED_CONTROL_UNIT,
    SIMULATED_PRINTER,
    MqttAnswers,
    TillAnswers,
)
from tools.install.checks import control_unit_problem, orgnr_problem, pos_id_problem, timezone_problem
from tools.install.device_steps import check_control_unit, check_device, check_scanner, find_control_unit
from tools.install.questions import Asker, InitRefused
from tools.install.till_toml import render_till_toml

__all__ = ["add_parser", "run"]

DEFAULT_DATA_DIR = "/var/lib/tillgw"  # where `tillgw service install` gives the till's user its data
_REQUIRED_BY_KIND = {
    "tcs": ("client_cert", "client_cert_password", "application_id"),
    "srv4pos": ("corporate_id", "api_key"),
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser(
        "init",
        help="set a till up: ask, find its devices, write a commented till.toml",
        description="Set a till up: ask who the shop is, find and check its devices, its broker and "
        "its ERP, and write a commented till.toml. On a terminal it asks what no flag says; with "
        "--non-interactive (or no terminal) every answer comes from a flag.",
    )
    init.add_argument(
        "--config", type=Path, default=Path("till.toml"), metavar="FILE", help="the file to write"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    init.add_argument("--non-interactive", action="store_true", help="ask nothing: every answer from a flag")
    init.add_argument(
        "--no-probe", action="store_true", help="write the devices as given, without asking them"
    )
    shop = init.add_argument_group("the shop")
    shop.add_argument("--shop-name", metavar="NAME", help="the business's name on the receipt")
    shop.add_argument(
        "--orgnr", metavar="NNNNNN-NNNN", help="organisationsnummer (a sole trader: personnummer)"
    )
    shop.add_argument("--address", action="append", metavar="LINE", help="an address line (repeat for each)")
    shop.add_argument("--store", metavar="ID", help="the store's id on the bus (default main)")
    shop.add_argument("--timezone", metavar="ZONE", help="the shop's time zone (default Europe/Stockholm)")
    shop.add_argument("--opening-hours", metavar="HOURS", help='e.g. "mon-fri 09:00-18:00" (default: always)')
    reg = init.add_argument_group("the register")
    reg.add_argument("--register-id", metavar="ID", help="the register's id (kassabeteckning), e.g. KASSA-1")
    reg.add_argument("--data-dir", metavar="DIR", help=f"its journal and key (default {DEFAULT_DATA_DIR})")
    reg.add_argument("--manufacturing-number", metavar="NUMBER", help="its tillverkningsnummer")
    reg.add_argument(
        "--paper-width", type=int, choices=(42, 48), help="receipt characters per line (default 42)"
    )
    dev = init.add_argument_group("the devices")
    dev.add_argument(
        "--control-unit", metavar="URL", help="its address, or 'auto': the one found on the serial ports"
    )
    dev.add_argument(
        "--cu-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a cloud unit's credential: {', '.join(CREDENTIAL_SETTINGS)}",
    )
    dev.add_argument(
        "--printer", metavar="URL", help="tcp://HOST:9100, a serial device, usb://VVVV:PPPP, or none"
    )
    dev.add_argument(
        "--scanner", metavar="URL", help="a serial device, socket://HOST:PORT, evdev://…, or none"
    )
    dev.add_argument(
        "--simulators",
        action="store_true",
        help=f"a demo till: the project's simulators ({SIMULATED_CONTROL_UNIT}, {SIMULATED_PRINTER})",
    )
    bus = init.add_argument_group("the API, the broker and the ERP")
    bus.add_argument("--api-listen", metavar="HOST:PORT", help="the POS's API (default 127.0.0.1:8080)")
    bus.add_argument("--mqtt", metavar="URL", help="the broker, or none (default mqtt://127.0.0.1:1883)")
    bus.add_argument(
        "--mqtt-username", metavar="USER", help="the till's user at the broker (its register id)"
    )
    bus.add_argument("--mqtt-password", metavar="PASSWORD", help="its password")
    bus.add_argument(
        "--mqtt-embedded", action="store_true", help="start a broker in the till when none answers"
    )
    bus.add_argument("--erp", choices=ERP_CHOICES, help="where Z reports are booked (default sie: SIE files)")
    bus.add_argument(
        "--erp-setting", action="append", default=[], metavar="KEY=VALUE", help="a key of the ERP's table"
    )
    init.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # There is no config yet to say the till's language: tillgw --language, else the default.
    use_language(getattr(args, "language", None) or DEFAULT_LANGUAGE)
    interactive = not args.non_interactive and sys.stdin.isatty()
    asker = Asker(interactive)
    try:
        target = args.config
        if target.exists() and not args.force:
            raise InitRefused(
                tr("{target} exists already; give --force to write a new one in its place").format(
                    target=target
                ),
                1,
            )
        answers = _gather(args, asker)
        text = render_till_toml(answers)
        _keep(text, target, answers)
    except InitRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except ValueError as exc:  # a flag's value, checked as the question would be
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\n" + tr("tillgw init: stopped; nothing was written"), file=sys.stderr)
        return 1
    print(tr("wrote {target}").format(target=target))
    print(tr("next: tillgw diag --config {target}   (every check)").format(target=target))
    print(
        tr("      tillgw service install --config {target}   (start it with the computer)").format(
            target=target
        )
    )
    if answers.simulators:
        print(tr("the simulators, each in a terminal of its own:"))
        print(
            f"      tillgw sim control-unit --listen tcp://{SIMULATED_CONTROL_UNIT.removeprefix('socket://')}"
        )
        print(f"      tillgw sim printer --listen {SIMULATED_PRINTER} --width {answers.paper_width}")
    return 0


def _settings(pairs: list[str], flag: str, allowed: tuple[str, ...] | None = None) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(tr("{flag}: {pair} is not KEY=VALUE").format(flag=flag, pair=repr(pair)))
        if allowed is not None and key.strip() not in allowed:
            raise ValueError(
                tr("{flag}: {key} is not one of {allowed}").format(
                    flag=flag, key=repr(key.strip()), allowed=", ".join(allowed)
                )
            )
        found[key.strip()] = value
    return found


def _gather(args: argparse.Namespace, asker: Asker) -> TillAnswers:
    """Every answer, asked in the order a technician thinks of them; the devices last."""
    if not asker.interactive and not args.non_interactive:
        asker.say(tr("tillgw init: no terminal to ask on: every answer comes from the flags"))
    name = asker.text(args.shop_name, "--shop-name", tr("The business's name (as on the receipt)"))
    orgnr = asker.text(
        args.orgnr, "--orgnr", tr("Organisationsnummer (or the owner's personnummer)"), check=orgnr_problem
    )
    address = asker.lines(args.address, "--address", tr("The place of sale's address"))
    store = asker.text(args.store, "--store", tr("The store's id on the bus"), default="main")
    zone = asker.text(
        args.timezone,
        "--timezone",
        tr("The shop's time zone"),
        default="Europe/Stockholm",
        check=timezone_problem,
    )
    pos_id = asker.text(
        args.register_id,
        "--register-id",
        tr("This register's id (kassabeteckning)"),
        default=None if not asker.interactive else "KASSA-1",
        check=pos_id_problem,
    )
    data_dir = asker.text(
        args.data_dir, "--data-dir", tr("Where it keeps its journal"), default=DEFAULT_DATA_DIR
    )
    simulators = args.simulators or (
        asker.interactive
        and args.control_unit is None
        and asker.confirm(tr("A demo with the project's simulated control unit and printer?"))
    )
    control_unit = args.control_unit or (SIMULATED_CONTROL_UNIT if simulators else None)
    if control_unit is None and not asker.interactive:
        asker.missing.append("--control-unit")
    printer = args.printer or (SIMULATED_PRINTER if simulators else None)
    if printer is None and not asker.interactive:
        asker.missing.append("--printer")
    mqtt = _mqtt_answers(args, asker, pos_id, simulators)
    # No bus, no sync module: what it would book never reaches it.
    erp_default = "none" if mqtt is None else "sie"
    erp = args.erp or asker.text(
        None,
        "--erp",
        tr("The ERP ({choices})").format(choices=", ".join(ERP_CHOICES)),
        default=erp_default,
        check=lambda t: (
            None if t in ERP_CHOICES else tr("one of {choices}").format(choices=", ".join(ERP_CHOICES))
        ),
    )
    erp_settings = _settings(args.erp_setting, "--erp-setting")
    for question in ERP_QUESTIONS.get(erp, ()):
        if question.key not in erp_settings:
            value = asker.text(
                None, f"--erp-setting {question.key}=…", tr(question.prompt), secret=question.secret
            )
            erp_settings[question.key] = value
    cu_settings = _settings(args.cu_setting, "--cu-setting", CREDENTIAL_SETTINGS)
    if control_unit is not None and control_unit != "auto":
        problem = control_unit_problem(control_unit)
        if problem is not None:
            raise ValueError(f"--control-unit: {problem}")
        for key in _REQUIRED_BY_KIND.get(kind_of(control_unit).value, ()):
            if key not in cu_settings:
                cu_settings[key] = asker.text(
                    None,
                    f"--cu-setting {key}=…",
                    tr("The control unit's {key}").format(key=key),
                    secret="password" in key,
                )
    if asker.missing:
        raise InitRefused(
            tr(
                "tillgw init asks only on a terminal, and without one these answers are missing: give {flags}"
            ).format(flags=", ".join(asker.missing)),
            2,
        )

    base = args.config.resolve().parent
    with asyncio.Runner() as runner:
        if control_unit is None or control_unit == "auto":
            # A unit found on a serial port speaks CCSP, which needs no credentials.
            control_unit = runner.run(find_control_unit(asker, pos_id, auto=control_unit == "auto"))
        if not args.no_probe:
            runner.run(
                check_control_unit(asker, control_unit, cu_settings, pos_id, orgnr, address, base, simulators)
            )
        if printer is None:
            printer = asker.text(
                None,
                "--printer",
                tr("The receipt printer (tcp://HOST:9100, /dev/ttyS0, usb://VVVV:PPPP, none)"),
                default="none",
            )
        printer_url = None if printer == "none" else printer
        if printer_url is not None and not args.no_probe:
            runner.run(check_device(asker, probing.printer_finding(printer_url), "--printer", simulators))
        scanner = args.scanner or (
            "none"
            if not asker.interactive
            else asker.text(
                None,
                "--scanner",
                tr("The barcode scanner (/dev/ttyACM0, evdev://name=NAME, none)"),
                default="none",
            )
        )
        scanner_url = None if scanner == "none" else scanner
        if scanner_url is not None and not args.no_probe:
            runner.run(check_scanner(asker, scanner_url))
        if mqtt is not None and not args.no_probe and not mqtt.embedded:
            runner.run(check_device(asker, probing.broker_check(mqtt, base), "--mqtt", False))
    return TillAnswers(
        shop_name=name,
        orgnr=orgnr,
        address=tuple(address),
        pos_id=pos_id,
        data_dir=data_dir,
        control_unit=control_unit,
        store=store,
        timezone=zone,
        opening_hours=args.opening_hours,
        manufacturing_number=args.manufacturing_number,
        paper_width=args.paper_width or 42,
        control_unit_settings=cu_settings,
        printer=printer_url,
        scanner=scanner_url,
        api_listen=args.api_listen or "127.0.0.1:8080",
        mqtt=mqtt,
        erp=erp,
        erp_settings=erp_settings,
        simulators=simulators,
    )


def _mqtt_answers(
    args: argparse.Namespace, asker: Asker, pos_id: str, simulators: bool
) -> MqttAnswers | None:
    url = args.mqtt or asker.text(
        None, "--mqtt", tr("The store's MQTT broker (or none)"), default="mqtt://127.0.0.1:1883"
    )
    if url == "none":
        return None
    username = args.mqtt_username
    password = args.mqtt_password
    if (
        asker.interactive
        and username is None
        and asker.confirm(tr("Does the broker want a user name and password?"))
    ):
        username = asker.text(None, "--mqtt-username", tr("The till's user at the broker"), default=pos_id)
        password = asker.text(None, "--mqtt-password", tr("Its password"), secret=True)
    return MqttAnswers(url, username, password, embedded=args.mqtt_embedded or simulators)


def _keep(text: str, target: Path, answers: TillAnswers) -> None:
    """``text`` at ``target`` (mode 0600: it holds passwords), once the till's reader (and the
    sync module's, with ``[sync]``) has loaded it; a file they refuse is not kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)  # mode 0600
    trial = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_config(trial)
            if answers.erp != "none":
                load_sync_config(trial)
        except ConfigError as exc:
            raise InitRefused(str(exc).replace(str(trial), str(target)), 1) from None
        os.replace(trial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            trial.unlink()
