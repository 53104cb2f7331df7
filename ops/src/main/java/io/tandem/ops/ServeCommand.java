package io.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.http.TenantSpec;
import io.tandem.protocol.Role;
import java.nio.file.Path;
import java.util.EnumMap;
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
    description = "Serve the OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models), health, metrics and the playground.")
public final class ServeCommand implements Callable<Integer> {

  @Mixin ModelOptions models = new ModelOptions();

  @Mixin io.tandem.ops.cluster.NodeOptions node = new io.tandem.ops.cluster.NodeOptions();

  @Option(names = "--host", description = "Address to bind. Default: tandem.http.host (127.0.0.1). Without API keys only loopback is allowed.")
  String host;

  @Option(names = "--port", description = "Port. Default: tandem.http.port (8080); 0 picks a free one.")
  Integer port;

  @Option(names = "--api-keys", description = "A HOCON/JSON file {\"api-keys\": [{\"key\", \"tenant\", \"max-concurrent\", \"tokens-per-minute\"}]}.")
  Path apiKeys;

  @Override
  public Integer call() throws Exception {
    Config base = ModelOptions.baseConfig();
    Config config = node.apply(models.nodeConfig(base));
    Map<Role, RoleSpec> roles = TandemNode.rolesFromConfig(config);
    boolean orchestrator = io.tandem.ops.cluster.NodeOptions.isOrchestrator(config);
    if (host != null) config = config.withValue("tandem.http.host", ConfigValueFactory.fromAnyRef(host));
    if (port != null) config = config.withValue("tandem.http.port", ConfigValueFactory.fromAnyRef(port));
    for (Role r : roles.keySet()) {
      if (!config.getString("tandem." + r + ".model").isBlank()) continue;
      // No model given: the embedded default, the demo pair that ships in ops/demo/.
      java.nio.file.Path demo;
      try {
        demo = io.tandem.ops.demo.DemoModels.dir().resolve(r.name());
      } catch (IllegalStateException e) {
        throw new IllegalArgumentException("no " + r + " model configured and " + e.getMessage()
            + " (or give --small SPEC --large SPEC: a checkpoint folder, scripted:PATH or simulated:PATH?latency=PROFILE)");
      }
      org.slf4j.LoggerFactory.getLogger(ServeCommand.class).info(
          "tandem serve: no {} model given; serving the embedded demo {} model {} (tiny, trained on sums of six "
              + "two-digit numbers: see ops/demo/README.md for what it can do)", r, r, demo);
      config = config.withValue("tandem." + r + ".model", ConfigValueFactory.fromAnyRef(demo.toString()));
      roles.put(r, RoleSpec.fromConfig(config.getConfig("tandem." + r)));
    }
    HttpSettings http = HttpSettings.fromConfig(config).withSpeculative(models.speculative(base));
    if (apiKeys != null) {
      java.util.List<TenantSpec> all = new java.util.ArrayList<>(http.tenants());
      all.addAll(TenantSpec.fromFile(apiKeys));
      http = http.withTenants(all);
    }
    if (http.open() && !java.net.InetAddress.getByName(http.host()).isLoopbackAddress())
      throw new IllegalArgumentException("refusing to serve " + http.host() + " with no API keys: give --api-keys FILE, or bind 127.0.0.1");
    TandemNode tnode = TandemNode.start("tandem", config, roles, orchestrator);
    tnode.awaitUp(java.time.Duration.ofSeconds(60));
    if (!orchestrator) {
      tnode.system().getWhenTerminated().toCompletableFuture().get();
      return 0;
    }
    try {
      TandemHttpServer.start(tnode.system(), tnode.sessions(), http).toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      tnode.close();
      throw e;
    }
    // Ctrl-C or SIGTERM runs CoordinatedShutdown: stop accepting, finish in-flight requests, stop.
    tnode.system().getWhenTerminated().toCompletableFuture().get();
    return 0;
  }
}
