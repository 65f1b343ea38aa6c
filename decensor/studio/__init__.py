"""decensor studio: paint what to restore in a browser, fill it, save it (see :mod:`.server`)."""

from .server import Studio, StudioError, make_server

__all__ = ["Studio", "StudioError", "make_server", "serve"]


def serve(folder, out, host="127.0.0.1", port=8765, open_browser=True, models_dir=None, echo=print):
    """Serve the studio until Ctrl-C; returns the exit code."""
    import webbrowser

    server = make_server(folder, out, host, port, models_dir)
    address = f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{server.server_address[1]}/"
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"warning: the studio listens on {host}: anyone who can reach this machine can read the pages in "
             f"{folder} and write to {out}")
    echo(f"decensor studio: {address} (pages from {folder}, saved to {out}; Ctrl-C stops it)")
    if open_browser:
        webbrowser.open(address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("studio stopped")
    finally:
        server.server_close()
    return 0
