// The CLI's help texts.

/** `kvtier --help`. */
export const MAIN_HELP = `kvtier: run and call a local kvtier stack

usage: pnpm kvtier <command> [flags]      (pnpm -s kvtier ... for output without pnpm's banner)

commands:
  up         start Redis/NATS (unless REDIS_URL/NATS_URL), kvstore, workers and router; Ctrl-C stops
  generate   one Generate call through the router, text streamed to stdout
  tokenize   token ids of a text, from the router

pnpm kvtier <command> --help shows a command's flags.
`;

/** Help of each command. */
export const COMMAND_HELP: Record<string, string> = {
  up: `usage: pnpm kvtier up [flags]

  --prefill N          prefill workers (default 1; 0 = decode workers prefill)
  --decode N           decode workers (default 1)
  --block-size N       tokens per KV block (default: the services' default, 16)
  --demo "prompt"      once up, run one greedy Generate and print its text and usage JSON
  --exit-after-demo    stop after the demo; exit 0 if it succeeded, 1 otherwise
  --api-key KEY        the dev API key (tenant "dev"); default: a random one, printed
  --router-port N      router port (default 0 = ephemeral)
  --log-dir DIR        one <process>.log per process (default .kvtier/logs/<time>)
  --verbose            echo every service's log lines, prefixed with the process name

REDIS_URL / NATS_URL, when set, are used instead of starting redis-server / nats-server.
`,
  generate: `usage: pnpm kvtier generate "<prompt>" --max-tokens N [flags]

  --max-tokens N       tokens to generate (required, >= 1)
  --temperature T      0 (default) = greedy; else in (0, 2]
  --top-p P            nucleus sampling, in (0, 1]
  --seed S             sampler seed (0 = derived from the request id)
  --stop STR           stop string (repeatable)
  --logprobs K         return the chosen token's logprob and K alternatives (0..20)
  --codec C            KV codec for stored blocks (default: the deployment's)
  --policy P           KV selection policy and budget, e.g. snapkv@25 (percent of prompt positions kept);
                       none = keep all (default: the deployment's). Methods: snapkv, pyramidkv, chunkkv,
                       streamingllm, h2o, quest, adaptivekv
  --request-id ID      client request id (default: generated)
  --json               print only one JSON summary line (text, tokens, usage, timings)
  --router HOST:PORT[,HOST:PORT...]  default $KVTIER_ROUTER, else 127.0.0.1:50051; with several
                       router replicas a call goes to the first one that can be reached
  --api-key KEY        default $KVTIER_API_KEY; none = anonymous

A failed call prints "error: <STATUS>: <details>" and exits 2.
`,
  tokenize: `usage: pnpm kvtier tokenize "<text>" [flags]

  --no-bos             do not prepend BOS
  --json               print {"token_ids": [...], "pieces": [...]}
  --router HOST:PORT[,HOST:PORT...]  default $KVTIER_ROUTER, else 127.0.0.1:50051; with several
                       router replicas a call goes to the first one that can be reached
  --api-key KEY        default $KVTIER_API_KEY; none = anonymous
`,
};
