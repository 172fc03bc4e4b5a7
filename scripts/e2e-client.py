"""Drives one server that mcp-warden runs with the official MCP Python SDK:
initialize, tools/list, one tools/call, and checks the answer.

Usage: e2e-client.py MCP_WARDEN HOME SERVER TOOL ARGS_JSON EXPECTED_TEXT
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(warden, home, server, tool, args, expected):
    params = StdioServerParameters(command=warden, args=["--home", home, "run", server])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await asyncio.wait_for(session.initialize(), 120)
            tools = await asyncio.wait_for(session.list_tools(), 60)
            names = [t.name for t in tools.tools]
            if tool not in names:
                raise SystemExit(f"{server}: no tool {tool!r} among {names}")
            result = await asyncio.wait_for(session.call_tool(tool, json.loads(args)), 60)
            text = " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")
            if result.isError or expected not in text:
                raise SystemExit(f"{server}: {tool} answered {text!r}, expected {expected!r}")
            print(f"{server}: {init.serverInfo.name} {init.serverInfo.version}, "
                  f"{len(names)} tools, {tool} answered as expected")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
