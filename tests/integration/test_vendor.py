"""Pinned browser libraries: Plotly served from the installed package (and its strict bundle), the
vendored Socket.IO client and dagre."""

import re
from importlib.metadata import version
from pathlib import Path

from webapp.web.vendor import MAX_AGE, plotly_dir

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def test_plotly_is_served_from_the_installed_package_with_a_long_cache(client):
    """GET /vendor/plotly.min.js gives the package's own file, as JavaScript, cached for a year."""
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert f"max-age={MAX_AGE}" in response.headers["Cache-Control"]
    assert response.data == (plotly_dir() / "plotly.min.js").read_bytes()
    assert b"plotly.js v" in response.data[:200]


def test_the_socketio_client_speaks_the_servers_protocol():
    """The vendored client is Socket.IO 4.x (protocol 5), the one python-socketio 5.x answers."""
    clients = sorted(VENDOR.glob("socket.io-*.esm.min.js"))
    assert len(clients) == 1, clients
    pinned = re.fullmatch(r"socket\.io-(\d+)\.(\d+)\.(\d+)\.esm\.min\.js", clients[0].name)
    assert pinned, clients[0].name
    banner = clients[0].read_text(encoding="utf-8")[:200]
    assert f"Socket.IO v{'.'.join(pinned.groups())}" in banner   # the name says what the file is
    assert pinned.group(1) == "4"
    assert version("python-socketio").split(".")[0] == "5"
    license_text = (VENDOR / clients[0].name.replace(".esm.min.js", ".LICENSE")).read_text(encoding="utf-8")
    assert "MIT License" in license_text


def test_the_graph_layout_library_is_pinned_dagre_with_its_license(client):
    """The builder's drawing lays graphs out with one vendored @dagrejs/dagre (MIT), served as a module."""
    files = sorted(VENDOR.glob("dagre-*.esm.min.js"))
    assert len(files) == 1, files
    pinned = re.fullmatch(r"dagre-(\d+\.\d+\.\d+)\.esm\.min\.js", files[0].name)
    assert pinned, files[0].name
    text = files[0].read_text(encoding="utf-8")
    assert f'ue="{pinned.group(1)}"' in text or f"@dagrejs/dagre {pinned.group(1)}" in text
    assert "export{" in text and "sourceMappingURL" not in text   # an ES module; no map is shipped
    assert "Permission is hereby granted" in (VENDOR / f"dagre-{pinned.group(1)}.LICENSE").read_text(encoding="utf-8")
    imports = (VENDOR.parent / "js" / "lib" / "graph-view.js").read_text(encoding="utf-8")
    assert f"../../vendor/{files[0].name}" in imports
    response = client.get(f"/static/vendor/{files[0].name}")
    assert response.status_code == 200 and response.data == files[0].read_bytes()


def test_plotlys_strict_bundle_is_pinned_to_the_installed_plotlys_version(client):
    """The sweep page's Plotly (the strict bundle: WebGL traces without eval, which the CSP forbids) is the
    same plotly.js version as the package's plotly.min.js, with its license, served as a static file."""
    files = sorted(VENDOR.glob("plotly-strict-*.min.js"))
    assert len(files) == 1, files
    pinned = re.fullmatch(r"plotly-strict-(\d+\.\d+\.\d+)\.min\.js", files[0].name)
    assert pinned, files[0].name
    assert f"plotly.js (strict - minified) v{pinned.group(1)}" in files[0].read_text(encoding="utf-8")[:200]
    package = (plotly_dir() / "plotly.min.js").read_text(encoding="utf-8")[:200]
    assert f"plotly.js v{pinned.group(1)}\n" in package, "update the strict bundle with the plotly package"
    license_text = (VENDOR / f"plotly-strict-{pinned.group(1)}.LICENSE").read_text(encoding="utf-8")
    assert "Permission is hereby granted" in license_text
    assert files[0].name in (VENDOR.parents[1] / "templates" / "base.html").read_text(encoding="utf-8")
    response = client.get(f"/static/vendor/{files[0].name}")
    assert response.status_code == 200 and response.data == files[0].read_bytes()
