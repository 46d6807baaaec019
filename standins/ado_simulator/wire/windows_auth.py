"""The simulator's auth modes: ``basic`` (the default) and ``windows``, an IIS front set up for
Windows authentication (``satellite simulator --auth windows``, ``create_app(..., auth="windows")``).

In ``windows`` mode a request without credentials, or with credentials the server does not accept,
gets what IIS sends when Windows authentication is the site's only challenge: 401, two
``WWW-Authenticate`` headers (``Negotiate`` and ``NTLM``) and IIS's HTML error page, whatever
``X-TFS-FedAuthRedirect`` says; never the 203 sign-in page, never a ``Basic`` challenge. A valid
PAT sent over Basic still works, as on a real server: Azure DevOps Server validates PATs itself,
beside IIS's Windows authentication (with IIS Basic authentication off, as Microsoft asks).
The simulator answers no Negotiate or NTLM handshake: no client of it does Windows auth.
"""

from __future__ import annotations

from standins.ado_simulator.wire.wire import Response, html_response

__all__ = ["AUTH_MODES", "IIS_UNAUTHORIZED_HTML", "WINDOWS_CHALLENGES", "windows_unauthorized"]

AUTH_MODES = ("basic", "windows")
WINDOWS_CHALLENGES = (("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"))
IIS_UNAUTHORIZED_HTML = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>
  <h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3>
 </fieldset></div>
</div>
</body>
</html>
"""


def windows_unauthorized() -> Response:
    """IIS's answer to a request it cannot authenticate when Windows authentication is on."""
    return html_response(401, IIS_UNAUTHORIZED_HTML, WINDOWS_CHALLENGES)
