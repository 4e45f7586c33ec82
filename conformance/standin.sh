#!/bin/sh
# A stand-in for an engine image in `deployc up` tests: takes the engine's argv, prints it, and serves
# GET /health (and /v1/models) on 127.0.0.1:<--port or --server-port> with busybox httpd, in the foreground.
echo "standin: argv: $*"
port=8000
while [ $# -gt 0 ]; do
  case "$1" in
    --port|--server-port) port="$2"; shift ;;   # --server-port: LMDeploy's spelling
    --port=*) port="${1#--port=}" ;;
  esac
  shift
done
mkdir -p /www/v1
echo ok > /www/health
echo '{"data": []}' > /www/v1/models
echo "standin: serving http://127.0.0.1:$port/health"
exec httpd -f -v -p "127.0.0.1:$port" -h /www
