package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.hf.Precision;
import io.tandem.protocol.Role;
import io.tandem.protocol.config.InvalidConfigException;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoleSpecTest {

  private static Config role(String precision) {
    return ConfigFactory.parseString("precision = " + precision)
        .withFallback(ConfigFactory.load().getConfig("tandem.large"));
  }

  @Test
  void eachRoleReadsThePrecisionItsWeightsAreHeldIn() {
    assertEquals(Precision.FLOAT32, RoleSpec.fromConfig(ConfigFactory.load().getConfig("tandem.small")).precision());
    assertEquals(Precision.FLOAT16, RoleSpec.fromConfig(role("float16")).precision());
    assertEquals(Precision.FLOAT16, RoleSpec.fromConfig(role("float16")).withModel("other").precision(),
        "another model for the role keeps its precision");
  }

  @Test
  void anUnknownPrecisionIsRefusedNamingTheChoices() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(role("int4")));
    assertTrue(e.getMessage().contains("int4") && e.getMessage().contains("float16"), e.getMessage());
  }

  @Test
  void eachRoleReadsItsIntraOpThreadsAndRefusesAnythingButAWholeCountNamingTheKey() {
    assertEquals(0, RoleSpec.fromConfig(ConfigFactory.load().getConfig("tandem.small")).threads(), "default: 0, the cores shared among the CPU workers");
    Config one = ConfigFactory.parseString("threads = 1").withFallback(ConfigFactory.load().getConfig("tandem.large"));
    assertEquals(1, RoleSpec.fromConfig(one).threads());
    assertEquals(1, RoleSpec.fromConfig(one).withModel("other").threads());
    for (String bad : List.of("-2", "abc", "1.5", "5000")) {
      Config node = ConfigFactory.parseString("tandem.large.threads = \"" + bad + "\"").withFallback(ConfigFactory.load());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.large));
      assertTrue(e.getMessage().startsWith("tandem.large.threads must be a whole number from 0 (the cores shared among the node's CPU workers) to 1024, got '" + bad + "'"),
          e.getMessage());
    }
  }

  /**
   * A tenant's share of the large queue is the whole queue unless lowered, whatever the queue-limit
   * is set to; above the queue-limit it could never be met, and is refused (tester46a: a queue-limit
   * of 10 beside the share's fixed 256 was taken without a word).
   */
  @Test
  void theTenantsShareFollowsTheQueueLimitAndMayNotPassIt() {
    Config lowered = ConfigFactory.parseString("tandem.large.queue-limit = 10")
        .withFallback(ConfigFactory.parseResourcesAnySyntax("application")).withFallback(ConfigFactory.defaultReference()).resolve();
    assertEquals(10, RoleSpec.fromConfig(lowered, Role.large).perTenantQueueLimit());
    Config above = ConfigFactory.parseString("tandem.large { queue-limit = 10, per-tenant-queue-limit = 11 }")
        .withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(above, Role.large));
    assertEquals("tandem.large.per-tenant-queue-limit must be from 1 to 10 (the most requests of one tenant in a large worker's"
        + " queue, at most its queue-limit; by default the queue-limit), got 11", e.getMessage());
  }

  @Test
  void aCountBelowItsMinimumIsRefusedNamingTheRoleAndTheKey() {
    Config node = ConfigFactory.parseString("tandem.large.per-tenant-queue-limit = -1").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.large));
    assertEquals("tandem.large.per-tenant-queue-limit must be from 1 to 256 (the most requests of one tenant in a large"
        + " worker's queue, at most its queue-limit; by default the queue-limit), got -1", e.getMessage());
    Config budget = ConfigFactory.parseString("tandem.large.max-num-batched-tokens = -1").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(budget, Role.large));
    assertEquals("tandem.large.max-num-batched-tokens must be >= 0 (0: no limit), got -1", e.getMessage());
  }

  @Test
  void eachRoleReadsItsPassTokenBudget() {
    assertEquals(0, RoleSpec.fromConfig(ConfigFactory.load(), Role.small).settings().maxNumBatchedTokens(), "no limit");
    Config node = ConfigFactory.parseString("tandem.large.max-num-batched-tokens = 512").withFallback(ConfigFactory.load());
    assertEquals(512, RoleSpec.fromConfig(node, Role.large).settings().maxNumBatchedTokens());
  }

  @Test
  void aValueOfTheWrongTypeIsNamedByItsKey() {
    Config node = ConfigFactory.parseString("tandem.small.max-batch = lots").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.small));
    assertEquals("tandem.small.max-batch must be a number, got the string \"lots\"", e.getMessage());
    Config size = ConfigFactory.parseString("tandem.small.kv-cache-bytes = lots").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(size, Role.small));
    assertEquals("tandem.small.kv-cache-bytes must be a size in bytes, like 512MiB or 2GiB, got the string \"lots\"", e.getMessage());
    Config precision = ConfigFactory.parseString("tandem.large.precision = bfloat16").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(precision, Role.large));
    assertTrue(e.getMessage().startsWith("tandem.large.precision: unknown precision 'bfloat16'"), e.getMessage());
  }

  /** Typesafe Config's getInt reads 0.5 as 0: the message names the value given, not the value it was cut to. */
  @Test
  void aCountGivenWithAFractionIsRefusedAsGiven() {
    Config node = ConfigFactory.parseString("tandem.small.max-batch = \"0.5\"").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.small));
    assertEquals("tandem.small.max-batch must be a whole number, got 0.5", e.getMessage());
    Config huge = ConfigFactory.parseString("tandem.small.kv-cache-bytes = 99999999999999999999999").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(huge, Role.small));
    assertEquals("tandem.small.kv-cache-bytes must be a size in bytes up to 9223372036854775807, like 512MiB or 2GiB,"
        + " got 99999999999999999999999", e.getMessage());
  }

  /** This machine's physical memory as the OS reports it to the JVM. */
  private static long physicalMemory() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize();
  }

  @Test
  void aKvCacheBudgetAboveThePhysicalMemoryOfTheMachineIsRefusedForACpuRole() {
    long physical = physicalMemory();
    Config node = ConfigFactory.parseString("tandem.small.kv-cache-bytes = " + (physical + 1)).withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.small));
    assertEquals("tandem.small.kv-cache-bytes must be from 0 to " + physical + " (this machine's physical memory, "
        + String.format(java.util.Locale.ROOT, "%.1f", physical / (double) (1L << 30)) + " GiB, which holds the KV cache of a"
        + " role on the CPU), got " + (physical + 1), e.getMessage());
    // A size with a unit beyond a long (8 EiB) is named by the same range, as written and in bytes.
    Config beyond = ConfigFactory.parseString("tandem.small.kv-cache-bytes = 8E").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(beyond, Role.small));
    assertTrue(e.getMessage().startsWith("tandem.small.kv-cache-bytes must be from 0 to " + physical + " (this machine's physical")
        && e.getMessage().endsWith("got 8E (9223372036854775808 bytes)"), e.getMessage());
    Config negative = ConfigFactory.parseString("tandem.small.kv-cache-bytes = -1").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(negative, Role.small));
    assertEquals("tandem.small.kv-cache-bytes must be a size in bytes from 0 up, like 512MiB or 2GiB, got -1", e.getMessage());
    Config gpuBeyond = ConfigFactory.parseString("tandem.large { devices = [gpu0], kv-cache-bytes = 8E }").withFallback(ConfigFactory.load());
    e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(gpuBeyond, Role.large));
    assertEquals("tandem.large.kv-cache-bytes must be a size in bytes up to 9223372036854775807, like 512MiB or 2GiB, got the string \"8E\"",
        e.getMessage(), "a GPU role's budget has no bound of this machine's");
    Config all = ConfigFactory.parseString("tandem.large.kv-cache-bytes = " + physical).withFallback(ConfigFactory.load());
    assertEquals(physical, RoleSpec.fromConfig(all, Role.large).settings().kvCacheBytes(), "all of it is still a budget");
    // A GPU's cache is in the GPU's memory, which may be larger than the machine's.
    Config gpu = ConfigFactory.parseString("tandem.large { devices = [gpu0], kv-cache-bytes = " + (2 * physical) + " }")
        .withFallback(ConfigFactory.load());
    assertEquals(2 * physical, RoleSpec.fromConfig(gpu, Role.large).settings().kvCacheBytes());
  }

  private static String gib(double bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (1L << 30));
  }

  /** The roles' specs on a node with {@code hocon} over the launcher's configuration. */
  private static java.util.Map<Role, RoleSpec> roles(String hocon) {
    Config node = ConfigFactory.parseString(hocon).withFallback(ConfigFactory.load());
    java.util.Map<Role, RoleSpec> out = new java.util.EnumMap<>(Role.class);
    for (Role r : Role.values()) out.put(r, RoleSpec.fromConfig(node, r));
    return out;
  }

  /** Both roles' KV caches on the CPU share one memory: budgets that fit it each but not together are refused. */
  @Test
  void kvCacheBudgetsOnTheCpuThatFitMemoryEachButNotTogetherAreRefusedNamingBothKeys() {
    long physical = physicalMemory();
    long each = physical / 2 + (1L << 30);
    InvalidConfigException both = assertThrows(InvalidConfigException.class, () -> RoleSpec.requireKvCachesFitMemory(
        roles("tandem.small.kv-cache-bytes = " + each + "\ntandem.large.kv-cache-bytes = " + each)));
    assertEquals("tandem.small.kv-cache-bytes (" + gib(each) + ") and tandem.large.kv-cache-bytes (" + gib(each) + ") add up to "
        + gib(2.0 * each) + ", more than this machine's physical memory, " + gib(physical) + ", which holds the KV cache of every"
        + " model worker on its CPU; lower them so that the sum fits", both.getMessage());
    InvalidConfigException replicas = assertThrows(InvalidConfigException.class, () -> RoleSpec.requireKvCachesFitMemory(
        roles("tandem.small { devices = [cpu, cpu], kv-cache-bytes = " + each + " }\ntandem.large.kv-cache-bytes = 0")));
    assertTrue(replicas.getMessage().startsWith("tandem.small.kv-cache-bytes (2 CPU workers of " + gib(each) + ") and"
        + " tandem.large.kv-cache-bytes (0.0 GiB) add up to "), replicas.getMessage());
    // A GPU's cache, a scripted model's (none) and a remote engine's are not in this machine's memory.
    assertDoesNotThrow(() -> RoleSpec.requireKvCachesFitMemory(roles("tandem.small.kv-cache-bytes = " + each
        + "\ntandem.large { kv-cache-bytes = " + each + ", devices = [gpu0] }")));
    assertDoesNotThrow(() -> RoleSpec.requireKvCachesFitMemory(roles("tandem.small.kv-cache-bytes = " + each
        + "\ntandem.large { kv-cache-bytes = " + each + ", model = \"scripted:/x.json\" }")));
    assertDoesNotThrow(() -> RoleSpec.requireKvCachesFitMemory(roles("tandem.small.kv-cache-bytes = " + physical / 2
        + "\ntandem.large.kv-cache-bytes = " + physical / 2)), "all of memory between them is still a budget");
  }

  @Test
  void aBatchAboveTheBoundIsRefusedNamingTheBoundAndWhy() {
    Config node = ConfigFactory.parseString("tandem.large.max-batch = 1000000000").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(node, Role.large));
    assertEquals("tandem.large.max-batch must be at most 4096 (sequences in one forward pass; 16 times vLLM's default"
        + " max_num_seqs), got 1000000000", e.getMessage());
    Config bound = ConfigFactory.parseString("tandem.large.max-batch = 4096").withFallback(ConfigFactory.load());
    assertEquals(4096, RoleSpec.fromConfig(bound, Role.large).settings().maxBatch());
  }
}
