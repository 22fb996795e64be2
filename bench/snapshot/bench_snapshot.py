# SPDX-License-Identifier: Apache-2.0
"""bench_snapshot.py: `naos snapshot save` of a big state on one node:
N deployments (`sleep 1000`, env N, default 500) and C checkpoints of
1 MiB - 4 KiB (env C, default 100), saved three times while a thread
runs `naos ping` back to back (the loop's latency, against idle); then
`naos-node recover --from` and `--data` timed. Binaries from
$NAOS_BUILD_DIR (default build/dev). Its node is reaped by PID and its
temp dir removed.

    NAOS_BUILD_DIR=build/dev python3 bench/snapshot/bench_snapshot.py
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

B = os.environ.get("NAOS_BUILD_DIR", "build/dev")
d=tempfile.mkdtemp(prefix="sb", dir="/tmp")
run=os.path.join(d,"r"); data=os.path.join(d,"d")
env=dict(os.environ); env.pop("NAOS_RUN_DIR",None)
p=subprocess.Popen([B+"/node/naos-node","start","--run",run,"--data",data,"--http","off"],stdout=open(d+"/log","w"),stderr=subprocess.STDOUT)
def naos(*a, inp=None):
    return subprocess.run([B+"/cli/naos","--run",run,*a],capture_output=True,input=inp,timeout=120)
try:
    for _ in range(100):
        if naos("ping").returncode==0: break
        time.sleep(0.05)
    N=int(os.environ.get("N","500")); C=int(os.environ.get("C","100"))
    t=time.time()
    for i in range(N):
        r=naos("deploy","d%d"%i,"--no-wait","--","sleep","1000")
        assert r.returncode==0, r
    print("deployed %d in %.1f s"%(N,time.time()-t))
    blob=os.urandom(1044480)
    for i in range(C):
        r=naos("checkpoint","save","d%d"%i,inp=blob); assert r.returncode==0, r
    def pinger(out, stop):
        while not stop.is_set():
            t1=time.time(); naos("ping"); out.append(time.time()-t1)
    base=[]; st=threading.Event(); th=threading.Thread(target=pinger,args=(base,st)); th.start(); time.sleep(1.5); st.set(); th.join()
    print("ping idle: max %.1f ms, median %.1f ms (n=%d)"%(max(base)*1e3, sorted(base)[len(base)//2]*1e3, len(base)))
    for k in range(3):
        lat=[]; st=threading.Event(); th=threading.Thread(target=pinger,args=(lat,st)); th.start()
        t=time.time()
        r=naos("--json","snapshot","save",d+"/s.snap","--force"); assert r.returncode==0, r
        st.set(); th.join()
        print("  ping during save: max %.1f ms, median %.1f ms (n=%d)"%(max(lat)*1e3, sorted(lat)[len(lat)//2]*1e3, len(lat)))
        j=json.loads(r.stdout)
        print("save: %d bytes, %d entries, node write %d ms, total %.2f s"%(j["bytes"],j["entries"],j["node_write_ms"],time.time()-t))
    p.send_signal(signal.SIGTERM); p.wait(60)
    t=time.time()
    r=subprocess.run([B+"/node/naos-node","recover","--from",d+"/s.snap","--data",d+"/d2"],capture_output=True,text=True)
    print("recover --from: rc %d in %.2f s"%(r.returncode,time.time()-t))
    t=time.time()
    r=subprocess.run([B+"/node/naos-node","recover","--data",data],capture_output=True,text=True)
    print("recover --data: rc %d in %.2f s"%(r.returncode,time.time()-t))
finally:
    if p.poll() is None:
        p.kill(); p.wait()
    shutil.rmtree(d)
