package io.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.ops.cluster.NodeOptions;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.http.TenantSpec;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tandem serve}: the OpenAI-compatible HTTP server with both models on this node. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Serve the OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models), health, metrics and the playground.",
      "Without --small/--large: the demo pair in ops/demo/ (tiny models that add six two-digit numbers).",
      "--temperature, --top-k, --top-p and --seed are what a request that leaves out that field gets."
    })
public final class ServeCommand implements Callable<Integer> {

  @Mixin ModelOptions models = new ModelOptions();

  @Mixin NodeOptions node = new NodeOptions();

  @Mixin CorsOptions cors = new CorsOptions();

  @Option(names = "--host", description = "Address to bind. Default: tandem.http.host (127.0.0.1). Without API keys only loopback is allowed.")
  String host;

  @Option(names = "--port", description = "HTTP port. Default: tandem.http.port (8080); 0 picks a free one.")
  Integer port;

  @Option(names = "--api-keys", description = "A JSON file {\"api-keys\": [{\"key\", \"tenant\", \"max-concurrent\", \"tokens-per-minute\"}]}.")
  Path apiKeys;

  /** The tenant of each key given by {@code --api-key} or {@value #API_KEY_ENV}. */
  static final String API_KEY_TENANT = "api-key";

  /** The variable read for a key when {@code --api-key} is not given, as vLLM reads {@code VLLM_API_KEY}. */
  static final String API_KEY_ENV = "TANDEM_API_KEY";

  /**
   * The values of a list option as argparse's {@code nargs='+'} takes them (vLLM's parser): up to
   * the next argument that starts with {@code -}, which is a flag, known or not. picocli's own list
   * took an unknown flag and the words after it as values: {@code --api-key sk-1 --max-model-len 4096}
   * started a server open to the key {@code --max-model-len}. A single-value option still takes a
   * value that starts with {@code -} (a prompt "- a list", {@code --top-k -1}). A value given after
   * {@code =} is that option's alone, whatever it starts with, as argparse takes it: a key that begins
   * with {@code -} ({@code --api-key=-L5j...}, one in 32 of {@code secrets.token_urlsafe}'s: tester52b).
   */
  static final class UntilNextFlag implements picocli.CommandLine.IParameterPreprocessor {
    @Override
    public boolean preprocess(java.util.Stack<String> args, picocli.CommandLine.Model.CommandSpec commandSpec,
        picocli.CommandLine.Model.ArgSpec argSpec, java.util.Map<String, Object> info) {
      String option = ((picocli.CommandLine.Model.OptionSpec) argSpec).longestName();
      List<String> values = new ArrayList<>(argSpec.getValue() == null ? List.<String>of() : argSpec.<List<String>>getValue());
      // picocli says how the value came: after the parser's separator (attached, "=") or a space.
      if (commandSpec.parser().separator().equals(info.get("separator")) && !args.isEmpty()) {
        values.add(args.pop());
        argSpec.setValue(values);
        return true;
      }
      if (args.isEmpty() || args.peek().startsWith("-"))
        throw new picocli.CommandLine.ParameterException(commandSpec.commandLine(), "Missing required parameter for option '"
            + option + "' (" + argSpec.paramLabel() + ")" + (args.isEmpty() ? "" : " before '" + args.peek() + "'")
            + (args.isEmpty() ? "" : "; a value that begins with - is given after =, as " + option + "=VALUE"));
      do values.add(args.pop());
      while (!args.isEmpty() && !args.peek().startsWith("-"));
      argSpec.setValue(values);
      return true;
    }
  }

  @Option(names = "--api-key", arity = "1..*", paramLabel = "KEY", preprocessor = UntilNextFlag.class, description = {
      "vLLM's --api-key: the key(s) clients must send as Authorization: Bearer KEY, each without limits (tenant \""
          + API_KEY_TENANT + "\"), beside those of --api-keys. Default: the variable " + API_KEY_ENV + ", if set and not empty.",
      "A key on the command line can be read by other users of this machine: prefer " + API_KEY_ENV + " or --api-keys FILE."})
  List<String> apiKey;

  @Option(names = "--served-model-name", arity = "1..*", paramLabel = "NAME", preprocessor = UntilNextFlag.class, description = "vLLM's: the name(s) clients pass as"
      + " \"model\"; an answer gives the name asked for, one without \"model\" the first. Default: tandem.http.served-model-names"
      + " (tandem).")
  List<String> servedModelNames;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  /**
   * The first sampling flag given on the command line, or null: each sets what a request that leaves
   * its field out gets, so only a node that serves HTTP uses it.
   */
  private String samplingFlagGiven() {
    for (String flag : List.of("--temperature", "--top-k", "--top-p", "--seed"))
      if (spec != null && spec.commandLine().getParseResult().hasMatchedOption(flag)) return flag;
    return null;
  }

  @Override
  public Integer call() throws Exception {
    // Everything that can be wrong with the arguments is found before any model loads.
    NodeOptions.requirePort("--port", port);
    Config base = ModelOptions.baseConfig();
    Config placed = node.apply(base);
    if (host != null) placed = placed.withValue("tandem.http.host", ConfigValueFactory.fromAnyRef(host));
    if (port != null) placed = placed.withValue("tandem.http.port", ConfigValueFactory.fromAnyRef(port));
    placed = cors.apply(placed);
    requireServesAlone(placed, node.aloneBy(base));
    boolean orchestrator = NodeOptions.isOrchestrator(placed);
    // Only an orchestrator serves HTTP: a worker given an HTTP flag would ignore it without a word.
    String httpFlag = port != null ? "--port " + port : host != null ? "--host " + host
        : servedModelNames != null ? "--served-model-name" : apiKey != null ? "--api-key"
        : apiKeys != null ? "--api-keys " + apiKeys : cors.given() != null ? cors.given() : samplingFlagGiven();
    if (!orchestrator && httpFlag != null)
      throw new UsageError(httpFlag + ": only a node with the orchestrator role"
          + " serves HTTP; leave it out on worker nodes, or add orchestrator to --roles");
    // The orchestrator's sessions run the algorithm: a worker's config would be read and never used (tester57c: a
    // worker given another config than the orchestrator's said only which model keys it did not use).
    if (!orchestrator && models.config != null)
      throw new UsageError("--config " + models.config + ": the speculative config is the orchestrator's (its sessions run"
          + " the algorithm, the workers only the steps they are sent); give it to the orchestrator node and leave it out"
          + " on worker nodes, or add orchestrator to --roles");
    // Read once it is known to be used: on a worker its lines of keys not used came before the refusal (tester57e).
    SpeculativeConfig speculative = models.speculative(base);
    // --temperature, --top-k, --top-p and --seed: what a request that leaves one out gets (checked here,
    // within what a request may ask for itself).
    SamplingParams sampling = models.sampling();
    if (servedModelNames != null) placed = placed.withValue("tandem.http.served-model-names",
        ConfigValueFactory.fromIterable(servedModelNames(servedModelNames)));
    String expected = "give a JSON file {\"api-keys\": [{\"key\", \"tenant\", \"max-concurrent\", \"tokens-per-minute\"}]}";
    // A keys file the configuration names that is not there exits 1, as --api-keys FILE and every other missing file do.
    String keysFile = placed.getString("tandem.http.api-keys-file");
    if (!keysFile.isBlank()) {
      // Where it was set (tester51b: under systemd, neither where nor the working directory could be told; a relative path
      // not there says the latter).
      String origin = placed.getValue("tandem.http.api-keys-file").origin().description();
      requireKeysFile("tandem.http.api-keys-file", Path.of(keysFile), expected
          + " (set in " + origin.replaceAll(":\\s*\\d+$", "") + ")");
    }
    HttpSettings http = HttpSettings.fromConfig(placed).withSpeculative(speculative).withDefaultSampling(sampling);
    if (orchestrator) requireLocalAddress(http.host(), host != null);
    if (apiKeys != null) {
      requireKeysFile("--api-keys", apiKeys, expected);
      List<TenantSpec> fromFile;
      try {
        fromFile = TenantSpec.fromFile(apiKeys);
      } catch (com.typesafe.config.ConfigException.Parse e) {
        throw ModelOptions.notHocon("--api-keys " + apiKeys, e, expected);
      } catch (TenantSpec.NotJson e) {
        // The file's text, not an entry, is at fault: exit 1, as a --config file that is not YAML.
        throw new IllegalArgumentException("--api-keys " + e.getMessage(), e);
      } catch (IllegalArgumentException e) {
        // The file's bytes (not UTF-8, unreadable) exit 1, as every other file's do.
        if (e instanceof io.tandem.protocol.text.Utf8Files.TooLarge)
          throw io.tandem.protocol.text.Utf8Files.tooLarge("--api-keys", apiKeys);
        if (e.getCause() instanceof java.nio.charset.CharacterCodingException c)
          throw io.tandem.protocol.text.Utf8Files.notUtf8("--api-keys", apiKeys, c);
        if (e.getCause() instanceof java.io.IOException io)
          throw new IllegalArgumentException("--api-keys " + apiKeys + ": cannot be read (" + io.getMessage() + ")", e);
        // What is refused is an entry, a mistake in what was given, as the same entry given with
        // -Dtandem.http.api-keys.N is (exit status 2).
        throw new UsageError("--api-keys " + e.getMessage(), e);
      }
      String configured = placed.getString("tandem.http.api-keys-file").isBlank() ? "tandem.http.api-keys"
          : "tandem.http.api-keys or tandem.http.api-keys-file";
      try {
        http = http.withTenants(TenantSpec.joined(http.tenants(), configured, fromFile, "--api-keys " + apiKeys));
      } catch (IllegalArgumentException e) {
        throw new UsageError(e.getMessage(), e);
      }
    }
    if (orchestrator) {
      // Set but empty is unset, as vLLM takes an empty VLLM_API_KEY.
      String fromEnv = System.getenv(API_KEY_ENV);
      if (fromEnv != null && fromEnv.isEmpty()) fromEnv = null;
      http = http.withTenants(withApiKeys(http.tenants(), apiKey, fromEnv));
      if (apiKey == null && fromEnv != null)
        // Beside a keys file its key is one more, without limits: said so, as a variable left exported adds it unseen (tester46a).
        org.slf4j.LoggerFactory.getLogger(ServeCommand.class).info("tandem serve: clients must send an API key: {}"
            + " (tenant {}, without limits){}; unset it to serve without it", API_KEY_ENV,
            API_KEY_TENANT, http.tenants().size() > 1 ? ", or one of the other keys given" : "");
      else if (apiKey != null && fromEnv != null)
        // --api-key wins, as vLLM's --api-key over VLLM_API_KEY: said, as the variable's clients get a 401 (tester59c).
        org.slf4j.LoggerFactory.getLogger(ServeCommand.class).info("tandem serve: {} is set but not used: --api-key"
            + " replaces it", API_KEY_ENV);
    }
    if (orchestrator && http.open() && !java.net.InetAddress.getByName(http.host()).isLoopbackAddress())
      // The fix is in what was given (keys, or another address), as with any other --host mistake.
      throw UsageError.of(host != null ? "--host" : "tandem.http.host", "refusing to serve " + http.host()
          + " with no API keys: give --api-key KEY or --api-keys FILE, or bind 127.0.0.1", null);
    if (orchestrator && placed.getBoolean("tandem.cluster.enabled") && http.port() != 0
        && http.port() == placed.getInt("tandem.cluster.port"))
      throw new UsageError("--port and --cluster-port are both " + http.port()
          + ": the HTTP API and the cluster transport each need a port of their own; give them different ones");
    if (orchestrator) requireFree("HTTP", http.host(), http.port(), "--port");
    if (placed.getBoolean("tandem.cluster.enabled"))
      requireFree("cluster", placed.getString("tandem.cluster.hostname"), placed.getInt("tandem.cluster.port"), "--cluster-port");
    List<Role> modelRoles = List.copyOf(TandemNode.rolesFromConfig(placed).keySet());
    Config config = models.nodeConfig(placed, modelRoles);
    Map<Role, RoleSpec> roles = ModelOptions.roleSpecs(config, modelRoles);
    http = http.withDemoPair(demoPair(config, modelRoles));
    if (orchestrator)
      for (Map.Entry<Role, RoleSpec> r : roles.entrySet())
        samplingNotApplied(r.getKey(), r.getValue().model(), http.defaultSampling())
            .ifPresent(org.slf4j.LoggerFactory.getLogger(ServeCommand.class)::info);

    // A signal before the node serves ends the process with nothing said after "loading ..." or the join's lines: a stop
    // could not be told from a crash (tester57b).
    java.util.concurrent.atomic.AtomicBoolean serving = new java.util.concurrent.atomic.AtomicBoolean();
    sayStopsWhileStarting(serving);
    TandemNode tnode = TandemNode.start("tandem", config, roles, orchestrator);
    tnode.ownOnlySeedWarning().ifPresent(org.slf4j.LoggerFactory.getLogger(TandemNode.class)::warn);
    // A second SIGTERM or Ctrl-C while the node drains gets a line saying so, instead of nothing.
    RepeatedSignals.install(() -> akka.actor.CoordinatedShutdown.get(tnode.system()).getShutdownReason().isPresent(),
        TandemNode.drainLimit(tnode.system().settings().config(), orchestrator, !roles.isEmpty()));
    if (!tnode.awaitUp()) return 0;
    if (!orchestrator) {
      serving.set(true);
      tnode.awaitTermination();
      return 0;
    }
    try {
      TandemHttpServer.start(tnode.system(), tnode.sessions(), http).toCompletableFuture().get(60, TimeUnit.SECONDS);
      serving.set(true);
    } catch (Exception e) {
      tnode.close();
      // Another process can still take the port while the models load.
      for (Throwable t = e; t != null; t = t.getCause())
        if (t instanceof BindException b) throw portTaken("HTTP", http.host(), http.port(), "--port", b);
      throw e;
    }
    // Ctrl-C or SIGTERM runs CoordinatedShutdown: stop accepting, finish in-flight requests, stop.
    tnode.awaitTermination();
    return 0;
  }

  /**
   * A line saying what {@code model}'s {@code generation_config.json} recommends for sampling that requests leaving
   * it out do not get here, or empty where it recommends nothing else (or {@code model} is no local folder). vLLM
   * applies those fields by default ({@code --generation-config auto}); Tandem samples both models of a pair alike, with
   * the request's settings or the server's defaults, and applies no penalties (tester59a: a vLLM user's requests
   * were sampled otherwise, and nothing said so).
   */
  static java.util.Optional<String> samplingNotApplied(Role role, String model, SamplingParams defaults) {
    Path dir;
    try {
      dir = Path.of(model);
    } catch (java.nio.file.InvalidPathException e) {
      return java.util.Optional.empty();
    }
    if (!Files.isDirectory(dir)) return java.util.Optional.empty();
    Map<String, Double> recommended = io.tandem.inference.hf.HfConfig.recommendedSampling(dir);
    List<String> differ = new ArrayList<>();
    recommended.forEach((field, value) -> {
      boolean same = switch (field) {
        case "temperature" -> value == defaults.temperature();
        case "top_k" -> value.intValue() <= 0 ? defaults.topK() <= 0 : value == defaults.topK();
        case "top_p" -> value == defaults.topP();
        case "min_p" -> value == 0.0;
        case "max_new_tokens" -> false; // vLLM's default max_tokens then; here tandem.http.default-max-tokens
        default -> value == 1.0; // repetition_penalty: 1 is none
      };
      if (!same) differ.add(field + " " + plain(value));
    });
    if (differ.isEmpty()) return java.util.Optional.empty();
    boolean maxNewTokens = recommended.containsKey("max_new_tokens");
    differ.removeIf(d -> d.startsWith("max_new_tokens "));
    List<String> unsupported = differ.stream().map(d -> d.substring(0, d.indexOf(' ')))
        .filter(f -> f.equals("min_p") || f.equals("repetition_penalty")).toList();
    // vLLM takes it as the default max_tokens (tester59f).
    // (A clause with its verb, alone or after the rest, and true of both endpoints: tester59h.)
    String maxNew = maxNewTokens ? "max_new_tokens " + plain(recommended.get("max_new_tokens")) + ", which vLLM takes as the"
        + " default max_tokens, is no default here: a chat request that leaves max_tokens out gets tandem.http.default-max-tokens"
        + " (by default what the context leaves), a completion 16 tokens" : "";
    if (differ.isEmpty()) return java.util.Optional.of("tandem serve: the " + role + " model's generation_config.json (" + dir
        + ") has " + maxNew);
    if (maxNewTokens) maxNew = "; its " + maxNew;
    return java.util.Optional.of("tandem serve: the " + role + " model's generation_config.json (" + dir + ") recommends "
        + String.join(", ", differ) + "; requests that leave these out get temperature "
        + plain(defaults.temperature()) + ", top_k " + defaults.topK() + ", top_p "
        + plain(defaults.topP()) + " (--temperature, --top-k, --top-p): both models of a"
        + " pair sample alike, and a model's own defaults are not applied as vLLM's --generation-config auto applies them"
        + (unsupported.isEmpty() ? "" : "; " + String.join(" and ", unsupported) + (unsupported.size() == 1 ? " is" : " are")
            + " not applied at all (Tandem has neither min_p nor penalties)") + maxNew);
  }

  /** {@code 20} for 20.0, {@code 0.95} for 0.95: a number as its JSON file wrote it. */
  private static String plain(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : Double.toString(value);
  }

  /**
   * Says a SIGTERM or Ctrl-C that comes before the node serves, in one line on stderr, then hands it
   * to the JVM's handler (which stops the process, exit status 143 or 130): the process otherwise
   * ended with nothing said after "loading ..." or the join's lines, and a stop could not be told
   * from a crash (tester57b). Under {@code -Xrs} (no JVM handler) nothing changes.
   */
  private static void sayStopsWhileStarting(java.util.concurrent.atomic.AtomicBoolean serving) {
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        sun.misc.Signal signal = new sun.misc.Signal(name);
        java.util.concurrent.atomic.AtomicReference<sun.misc.SignalHandler> jvm = new java.util.concurrent.atomic.AtomicReference<>();
        sun.misc.SignalHandler previous = sun.misc.Signal.handle(signal, s -> {
          if (!serving.get()) System.err.println("tandem serve: SIG" + s.getName() + " while starting (loading its models or"
              + " joining its cluster): stopping before it served");
          sun.misc.SignalHandler to;
          // Only a signal in the instant between installing this handler and its return can see none yet.
          while ((to = jvm.get()) == null) Thread.onSpinWait();
          to.handle(s);
        });
        if (previous == sun.misc.SignalHandler.SIG_DFL || previous == sun.misc.SignalHandler.SIG_IGN) {
          sun.misc.Signal.handle(signal, previous);
          continue;
        }
        jvm.set(previous);
      } catch (IllegalArgumentException | UnsupportedOperationException notHere) {
        // The JVM does not let this signal be handled here: its own behaviour stands.
      }
    }
  }

  /**
   * Whether this node's models are the demo pair, for the playground's examples and hints: not when
   * any model here is another (a checkpoint, a script, an engine); unknown when a role runs on other
   * nodes.
   */
  static HttpSettings.DemoPair demoPair(Config config, List<Role> modelRoles) {
    for (Role r : modelRoles) {
      String model = config.getString("tandem." + r + ".model");
      // Blank after nodeConfig: the role's devices are engines alone.
      if (model.isBlank() || !io.tandem.ops.demo.DemoModels.isDemo(model, r.name())) return HttpSettings.DemoPair.NOT_SERVED;
    }
    return modelRoles.size() == Role.values().length ? HttpSettings.DemoPair.SERVED : HttpSettings.DemoPair.UNKNOWN;
  }

  /**
   * The names of {@code --served-model-name}, as vLLM's: clients may pass any of them as {@code
   * model}, and an answer gives the name asked for; the first is a request's without {@code model},
   * and {@code /v1/models} lists it first.
   *
   * @throws UsageError when a name is blank or given twice
   */
  static List<String> servedModelNames(List<String> names) {
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String n : names) {
      if (n.isBlank()) throw new UsageError("--served-model-name: a name is empty; give the name(s) clients pass as \"model\"");
      if (!seen.add(n)) throw new UsageError("--served-model-name: " + n + " is given twice; give each name once");
    }
    return List.copyOf(names);
  }

  /**
   * {@code tenants} with the keys of {@code --api-key} ({@code given}), or else the key in {@value
   * #API_KEY_ENV} ({@code fromEnv}, null when unset or empty; vLLM's {@code --api-key} and {@code
   * VLLM_API_KEY}): each a tenant {@value #API_KEY_TENANT} without limits. A message never shows a key.
   *
   * @throws UsageError when a key is empty, has a character a Bearer token may not have, or is given
   *     twice, by these or by {@code --api-keys} and {@code tandem.http.api-keys}, or when those name a
   *     tenant {@value #API_KEY_TENANT} (whose limits these keys would share)
   */
  static List<TenantSpec> withApiKeys(List<TenantSpec> tenants, List<String> given, String fromEnv) {
    String source = given != null ? "--api-key" : API_KEY_ENV;
    List<String> keys = given != null ? given : fromEnv == null ? List.of() : List.of(fromEnv);
    List<TenantSpec> out = new ArrayList<>(tenants);
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (TenantSpec t : tenants) seen.add(t.key());
    // Keys of one tenant share its limits: a configured tenant of that name would put them on these.
    if (!keys.isEmpty() && tenants.stream().anyMatch(t -> t.tenant().equals(API_KEY_TENANT)))
      throw new UsageError(source + ": --api-keys or tandem.http.api-keys has a tenant named " + API_KEY_TENANT + ", whose limits"
          + " the keys of " + source + " would share; name that tenant otherwise, or give these keys there");
    for (int i = 0; i < keys.size(); i++) {
      String key = keys.get(i);
      if (key.isBlank())
        throw new UsageError(source + " is " + (key.isEmpty() ? "empty" : "blank") + "; give the key clients must send as"
            + " Authorization: Bearer KEY");
      try {
        out.add(new TenantSpec(key, API_KEY_TENANT, 0, 0));
      } catch (IllegalArgumentException e) {
        throw new UsageError(source + ": " + e.getMessage().replace("give the tenant a key", "give a key"), e);
      }
      String tenant = tenants.stream().filter(t -> t.key().equals(key)).map(TenantSpec::tenant).findFirst().orElse(null);
      if (tenant != null)
        throw new UsageError(source + (keys.size() > 1 ? " #" + (i + 1) : "") + ": the key of tenant "
            + io.tandem.protocol.text.Clipped.of(tenant) + " (from --api-keys, tandem.http.api-keys or"
            + " tandem.http.api-keys-file); give each key once");
      if (!seen.add(key))
        throw new UsageError(source + " #" + (i + 1) + ": the same key as " + source + " #"
            + (keys.indexOf(key) + 1) + "; give each key once");
    }
    return out;
  }

  /**
   * Refuses a port something else listens on, before any model loads: binding it afterwards
   * would fail only once both models are loaded, and then with a stack trace. The probe binds the
   * port without listening on it (a client socket with {@code SO_REUSEADDR}, which Linux still
   * refuses beside a listener, on that address or the wildcard): a {@link java.net.ServerSocket}
   * listens as it binds, and the kernel completed the handshakes of clients that connected in that
   * moment, then reset them (tester58c: 4 resets while an orchestrator restarted under clients
   * retrying at once).
   *
   * @param what which server the port is for ("HTTP", "cluster"), as the message names it
   * @param flag the option that chooses another port
   * @throws IllegalArgumentException saying which port is taken and what to do
   */
  static void requireFree(String what, String host, int port, String flag) {
    if (port == 0) return;
    try (java.net.Socket probe = new java.net.Socket()) {
      probe.setReuseAddress(true);
      probe.bind(new InetSocketAddress(host, port));
    } catch (IOException e) {
      throw portTaken(what, host, port, flag, e);
    }
  }

  /**
   * Refuses a node outside a cluster ({@code --no-cluster} or {@code tandem.cluster.enabled = off})
   * that cannot serve on its own: without the orchestrator role nothing can reach its workers, and an
   * orchestrator with neither model role has no worker at all. With one model role it serves that
   * model alone (README, "Tandem as an engine").
   *
   * @param aloneBy what runs the node alone, as {@link NodeOptions#aloneBy} names it (null: nothing
   *     chose it, so the node has all three roles)
   * @throws UsageError naming what runs it alone, the roles, and the role to add
   */
  static void requireServesAlone(Config placed, String aloneBy) {
    if (placed.getBoolean("tandem.cluster.enabled")) return;
    List<String> roles = placed.getStringList("tandem.roles");
    String alone = aloneBy == null ? "--no-cluster" : aloneBy;
    String given = alone + " with the roles " + String.join(",", roles);
    if (!roles.contains("orchestrator"))
      throw new UsageError(given + ": outside a cluster no orchestrator can reach this node's workers; add orchestrator"
          + " to --roles to serve HTTP from this node, or leave out " + alone + " and give --seed-nodes to join a cluster");
    if (!roles.contains("small") && !roles.contains("large"))
      throw new UsageError(given + ": outside a cluster this orchestrator has no model worker to run sessions on; add small,"
          + " large or both to --roles, or leave out " + alone + " so that worker nodes can join it");
  }

  /**
   * Refuses an HTTP address that this machine cannot bind, before any model loads: a name that does
   * not resolve, or an address of another machine (binding would fail after loading). An empty one
   * is refused too: the JDK resolves it to the loopback address, so it would serve where the user
   * did not say.
   *
   * @param given whether {@code --host} gave it (a usage error) rather than {@code tandem.http.host}
   */
  static void requireLocalAddress(String host, boolean given) {
    String why = whyNotLocal(host);
    if (why == null) return;
    String givenBy = given ? "--host" : "tandem.http.host";
    throw UsageError.of(givenBy, givenBy + " " + (host.isBlank() ? "'" + host + "'" : host) + ": " + why + "; give an"
        + " address of this machine to bind: 127.0.0.1 (the default), 0.0.0.0 for every interface (with --api-keys), or"
        + " one of its own addresses", null);
  }

  /** Why this machine cannot bind {@code host}, or null when it can (or cannot tell). */
  public static String whyNotLocal(String host) {
    if (host.isBlank()) return "empty";
    try {
      InetAddress a = InetAddress.getByName(host);
      boolean local = a.isAnyLocalAddress() || a.isLoopbackAddress() || NetworkInterface.getByInetAddress(a) != null;
      return local ? null : "not an address of this machine";
    } catch (UnknownHostException e) {
      return "no such host name or address";
    } catch (SocketException e) {
      return null; // the interfaces cannot be listed: the bind itself will say
    }
  }

  private static IllegalArgumentException portTaken(String what, String host, int port, String flag, Exception e) {
    String reason = e.getMessage() == null ? e.toString() : e.getMessage().replaceAll(".*Address already in use.*", "Address already in use");
    // An IPv6 address is bracketed before its port, as in a URL (tester58d: "::1:18810", ":::18810").
    if (host.contains(":") && !host.startsWith("[")) host = "[" + host + "]";
    // Not taken: a port below 1024 is the system's to give (tester50d: "is another Tandem running there?" as a user).
    if (port < 1024 && reason.contains("Permission denied"))
      return new IllegalArgumentException("cannot listen on " + host + ":" + port + " for " + what + " (Permission denied):"
          + " ports below 1024 need root or the CAP_NET_BIND_SERVICE capability; choose a port of 1024 or more with " + flag
          + " N (0 picks a free one), or put a proxy on port " + port + " in front of it");
    return new IllegalArgumentException("cannot listen on " + host + ":" + port + " for " + what + " (" + reason
        + "; is another Tandem or server running there?): stop it, or choose another port with " + flag
        + " N (0 picks a free one)");
  }

  /**
   * {@link ModelOptions#requireInputFile}, but a value that is not there and looks like an API key
   * itself (--api-keys, one letter from --api-key) is not repeated in the refusal (tester51f).
   */
  private static void requireKeysFile(String option, Path file, String expected) {
    if (!java.nio.file.Files.exists(file) && io.tandem.protocol.text.Secrets.keyLike(file.toString()))
      throw new IllegalArgumentException(option + ": no such file, and its value looks like an API key itself "
          + io.tandem.protocol.text.Secrets.HIDDEN + "; " + option + " names a keys file (" + expected.replaceFirst("^give ", "")
          + "); a key alone is given with --api-key KEY");
    ModelOptions.requireInputFile(option, file, expected);
  }
}
