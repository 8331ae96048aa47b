// Which environment a child process sees. Build tools keep their own configuration
// (CARGO_HOME, GIT_CONFIG_GLOBAL, NIX_CONFIG, RUSTUP_HOME...) but never a secret;
// crafted binaries get a minimal environment of their own.

const SECRET_NAMES = new Set(["GROQ_API_KEY", "GITHUB_TOKEN", "GH_TOKEN", "OPENAI_API_KEY"]);
const SECRET_PATTERN = /TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL|COOKIE|AUTH/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAMES.has(name) || SECRET_PATTERN.test(name);
}

/** The server's environment minus every secret: for git, cargo and nix. */
export function toolchainEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !isSecretName(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A minimal environment for a crafted binary: nothing of the server's but PATH and locale. */
export function craftedEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    TMPDIR: home,
    LANG: process.env.LANG ?? "C.UTF-8",
    TERM: "dumb",
    ...extra,
  };
}

/** Removes every secret value that occurs in a text (for logs and results). */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [k, v] of Object.entries(process.env)) {
    if (v && v.length >= 8 && isSecretName(k)) out = out.split(v).join("[redacted]");
  }
  return out;
}

/** What git needs of the operator's environment: its configuration, proxies, ssh, TLS. */
const GIT_PASSTHROUGH = /^(PATH|HOME|LANG|LC_\w+|TZ|XDG_CONFIG_HOME|GIT_CONFIG_GLOBAL|GIT_CONFIG_SYSTEM|GIT_CONFIG_NOSYSTEM|GIT_SSH_COMMAND|GIT_SSL_CAINFO|GIT_SSL_NO_VERIFY|SSH_AUTH_SOCK|SSL_CERT_FILE|SSL_CERT_DIR|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|ALL_PROXY|all_proxy)$/;

/** git's environment: the operator's git settings without secrets, and never a prompt. */
export function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(toolchainEnv())) if (GIT_PASSTHROUGH.test(k)) env[k] = v;
  return { ...env, GIT_TERMINAL_PROMPT: "0" };
}
