package io.tandem.ops.engine;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.ops.RoleSpec;
import io.tandem.ops.TandemNode;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.protocol.Role;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A Tandem node serving one model as another Tandem's engine, as {@code tandem serve --roles
 * orchestrator,ROLE} with {@code tandem.http.default-mode = ROLE} runs it: its own ActorSystem, its
 * own HTTP server on a free loopback port, answering {@code /v1/completions} with vLLM's extension
 * fields.
 */
final class TandemEngineNode implements AutoCloseable {
  final String name;
  final TandemNode node;
  final TandemHttpServer http;

  TandemEngineNode(String name, Role role, Path model, int maxBatch) throws Exception {
    this(name, role, model.toString(), maxBatch);
  }

  /** A node whose {@code role} is served by {@code model}: a checkpoint folder or itself an engine spec. */
  TandemEngineNode(String name, Role role, String model, int maxBatch) throws Exception {
    this(name, role, model, maxBatch, "");
  }

  /** As above, with {@code hocon} over the defaults (e.g. {@code tandem.http.api-keys}, as {@code serve --api-keys} adds them). */
  TandemEngineNode(String name, Role role, String model, int maxBatch, String hocon) throws Exception {
    this.name = name;
    Config c = ConfigFactory.parseString(hocon).withFallback(ConfigFactory.load())
        .withValue("tandem." + role + ".model", ConfigValueFactory.fromAnyRef(model))
        .withValue("tandem." + role + ".max-batch", ConfigValueFactory.fromAnyRef(maxBatch))
        .withValue("tandem.http.default-mode", ConfigValueFactory.fromAnyRef(role.name()))
        .withValue("tandem.http.served-model-names", ConfigValueFactory.fromIterable(List.of(name)));
    node = TandemNode.start(name, c, Map.of(role, RoleSpec.fromConfig(c.getConfig("tandem." + role))), true);
    http = TandemHttpServer.start(node.system(), node.sessions(), HttpSettings.fromConfig(c).withPort(0))
        .toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /** The engine spec naming this node, with {@code tokenizer} as the tokenizer folder. */
  String spec(Path tokenizer) {
    return spec() + "&tokenizer=" + tokenizer;
  }

  /** The engine spec naming this node without a tokenizer folder: this node's tokenizer does the work. */
  String spec() {
    return "openai:http://127.0.0.1:" + http.port() + "/v1?model=" + name;
  }

  /** Stops at once, as a killed process does: no draining of requests in flight. */
  @Override
  public void close() {
    node.close();
  }
}
