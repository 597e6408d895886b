"""Sandbox provider APIs on loopback (Webex, ElevenLabs, Twilio) serving a simulator folder.

    with run_sandbox(data_dir, time_scale=60.0) as sandbox:
        sandbox.env()            # WEBEX_API_BASE_URL=…, TWILIO_AUTH_TOKEN=…, …
        sandbox.faults.set("webex.cdr_feed", "server_error", count=2)

See simulator/README.md ("Sandbox provider APIs") for the contract.
"""

from simulator.sandbox.app import BaseUrls, Sandbox, build_app, make_state, run_sandbox
from simulator.sandbox.faults import ENDPOINTS, Fault, FaultPlan, parse_fault_spec
from simulator.sandbox.state import Credentials

__all__ = ["run_sandbox", "Sandbox", "BaseUrls", "Credentials", "Fault", "FaultPlan", "ENDPOINTS",
           "parse_fault_spec", "build_app", "make_state"]
