"""A product's department from its title, by a fixed keyword taxonomy (documented in docs/real-data.md).

Rule: cut the title at its first " in ", " with ", " for " or "(" (what follows is colour, finish or
accessories), find every taxonomy keyword in that head (whole words, optional plural "s"/"es"), and take the
department of the *last* match: in an English noun phrase the head noun comes last ("Over the Range Microwave"
is an appliance). When the head holds no keyword, the whole title is searched the same way; else "Other".
"""

from __future__ import annotations

import re
from functools import lru_cache

OTHER = "Other"

# Department -> keywords (comma-separated; a trailing "s"/"es" also matches). A keyword listed twice belongs to
# the first department that lists it.
TAXONOMY: dict[str, str] = {
    "Lighting & Fans": (
        "light, lighting, bulb, lamp, chandelier, sconce, pendant, fixture, ceiling fan, flashlight, "
        "lantern, downlight, track lighting, recessed, luminaire, fan, led"
    ),
    "Bath": (
        "toilet, shower, showerhead, bathtub, tub, vanity, vanity top, bath, lavatory, bidet, towel bar, "
        "towel ring, toilet seat, shower head, grab bar, medicine cabinet, soap dispenser"
    ),
    "Plumbing": (
        "faucet, sink, pipe, valve, fitting, coupling, elbow, tee, adapter, water heater, drain, pvc, "
        "copper, flange, nipple, trap, supply line, water filter, sump pump, pump, garbage disposal, "
        "plunger, hose bibb, cartridge, p-trap, bushing"
    ),
    "Appliances": (
        "refrigerator, range, microwave, dishwasher, front load washer, top load washer, washing machine, "
        "dryer, oven, cooktop, range hood, freezer, ice maker, wine cooler, beverage cooler, stove, "
        "appliance, vacuum, disposer"
    ),
    "Electrical": (
        "wire, outlet, switch, breaker, cable, receptacle, extension cord, cord, conduit, box, dimmer, plug, "
        "wall plate, wallplate, circuit, timer, surge protector, doorbell, smoke alarm, detector, battery, "
        "charger, connector, junction, transformer, generator"
    ),
    "Paint": (
        "paint, primer, stain, sealer, sealant, caulk, coating, roller, brush, spray paint, enamel, varnish, "
        "polyurethane, lacquer, paint tray, tape, drop cloth, putty, epoxy, adhesive, glue, wallpaper, "
        "finish, resurfacer, patch"
    ),
    "Flooring": (
        "tile, flooring, floor, carpet, laminate, hardwood, vinyl plank, plank, rug, mat, underlayment, "
        "grout, mosaic, backsplash, stair tread, threshold, transition, runner, baseboard, quarter round, "
        "reducer, stair nose, stairnose"
    ),
    "Tools": (
        "drill, saw, wrench, screwdriver, hammer, blade, bit, plier, pliers, sander, grinder, tool, "
        "tool set, socket, ratchet, chisel, level, tape measure, clamp, vise, router, nailer, stapler, "
        "compressor, multi-tool, impact driver, driver, tool box, toolbox, utility knife, knife, file, "
        "cutter, snips, ladder, workbench, heat gun, sprayer, shop vac, wet/dry vac, flap disc, wheel, "
        "jigsaw, welder"
    ),
    "Hardware": (
        "screw, bolt, nut, washer, nail, anchor, hinge, knob, pull, handle, lock, deadbolt, latch, hook, "
        "bracket, angle, fastener, rivet, chain, rope, cable tie, strap, hasp, padlock, key, lever, "
        "door knob, handleset, caster, spring, pin, shelf bracket, standard, tie, hanger, connector plate, "
        "stake, rod, dowel, magnet"
    ),
    "Outdoor & Garden": (
        "grill, mower, lawn mower, trimmer, edger, blower, chainsaw, patio, garden, hose, sprinkler, nozzle, "
        "plant, planter, pot, soil, mulch, fertilizer, seed, shrub, tree, rose, fence, fencing, gate, shed, "
        "umbrella, chaise, lounge, dining set, bench, fire pit, gazebo, pergola, wheelbarrow, rake, shovel, "
        "spade, hoe, pruner, lopper, weed, pest, insect, killer, repellent, bird, feeder, pool, paver, "
        "edging, landscape, snow blower, thrower, cushion, hammock, arbor, trellis, outdoor"
    ),
    "Building Materials": (
        "lumber, plywood, drywall, insulation, roofing, shingle, concrete, cement, mortar, board, moulding, "
        "molding, trim, post, beam, joist, stud, sheathing, siding, panel, lattice, baluster, railing, rail, "
        "spindle, flashing, gutter, downspout, osb, mdf, pine, cedar, lath, vapor barrier, membrane, "
        "decking, deck, block, brick, stone, sand, gravel, wood, skylight, vent, soffit, corner"
    ),
    "Doors & Windows": (
        "door, window, blind, blinds, shade, shades, curtain, drape, valance, shutter, storm door, screen, "
        "patio door, garage door, sliding door, prehung, slab, sidelite, weatherstrip, weather stripping, "
        "door sweep, curtain rod, window film, cornice"
    ),
    "Heating & Cooling": (
        "air conditioner, heater, thermostat, air filter, filter, dehumidifier, humidifier, furnace, "
        "air purifier, space heater, fireplace, heat pump, register, grille, duct, ductwork, radiator, "
        "evaporative cooler, cooler, heating, ac, btu, mini split, vent fan, exhaust fan, bath fan"
    ),
    "Storage & Organization": (
        "shelf, shelving, shelves, cabinet, storage, organizer, rack, bin, basket, drawer, closet, hamper, "
        "tote, container, hanger, cart, cubby, wall mount, pegboard, safe, mailbox, trash can, can, "
        "bookcase, desk, chair, table, ottoman, stool, mirror, frame, clock, tray, dispenser, holder, caddy, "
        "hanging"
    ),
}

_CUTS = re.compile(r"\s(?:in|with|for)\s|\(", re.IGNORECASE)


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern, dict[str, str]]:
    """One alternation, longest keyword first, so 'ceiling fan' wins over 'fan' at the same place."""
    owner = {}
    for department, keywords in TAXONOMY.items():
        for word in keywords.split(", "):
            owner.setdefault(word, department)
    words = sorted(owner, key=len, reverse=True)
    alternation = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w-])({alternation})(?:e?s)?(?![\w-])", re.IGNORECASE), owner


def _last_match(text: str) -> str | None:
    pattern, owner = _pattern()
    matches = pattern.findall(text)
    return owner[matches[-1].lower()] if matches else None


def department(title: str) -> str:
    """The department of one product title (deterministic; see the module docstring)."""
    head = _CUTS.split(title, maxsplit=1)[0]
    return _last_match(head) or _last_match(title) or OTHER


def departments(titles) -> list[str]:
    """Departments of many titles, each distinct title classified once."""
    cache: dict[str, str] = {}
    return [cache[t] if t in cache else cache.setdefault(t, department(t)) for t in titles]
