package io.tandem.ops;

import com.typesafe.config.Config;
import io.tandem.inference.hf.Precision;
import io.tandem.worker.WorkerSettings;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.config.InvalidConfigException;
import io.tandem.protocol.Role;
import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The model of one role on this node: its spec, the devices to run replicas on, worker limits, the
 * precision a checkpoint's weights are held in ({@code precision}: float32 or float16), and the
 * intra-op threads each of its forward passes uses ({@code threads}; 0: the cores shared among the
 * node's CPU workers, see {@code TandemNode.intraOpThreads}).
 */
public record RoleSpec(
    String model, List<String> devices, WorkerSettings settings, int perTenantQueueLimit, Precision precision,
    int threads) {

  public RoleSpec {
    devices = List.copyOf(devices);
    if (devices.isEmpty()) throw new IllegalArgumentException("devices must list at least one device, like [cpu] or [gpu0], got none");
    if (precision == null) precision = Precision.FLOAT32;
    if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0: the cores shared among the CPU workers), got " + threads);
    // Above the queue it could never be met: a setting without effect, most likely a queue-limit lowered beside it.
    if (perTenantQueueLimit < 1 || perTenantQueueLimit > settings.queueLimit())
      throw new IllegalArgumentException("per-tenant-queue-limit must be from 1 to " + settings.queueLimit() + " (the most"
          + " requests of one tenant in a large worker's queue, at most its queue-limit; by default the queue-limit), got "
          + perTenantQueueLimit);
  }

  /** A role in float32, on every core. */
  public RoleSpec(String model, List<String> devices, WorkerSettings settings, int perTenantQueueLimit) {
    this(model, devices, settings, perTenantQueueLimit, Precision.FLOAT32, 0);
  }

  /**
   * Reads {@code tandem.small} or {@code tandem.large}. Every message it refuses a value with
   * begins with the value's key within the section ({@code max-batch must be ...}), so that {@link
   * #fromConfig(Config, Role)} can name it in full.
   *
   * @throws IllegalArgumentException when {@code precision} is neither float32 nor float16, {@code
   *     threads} is negative, a worker limit is out of its range, {@code per-tenant-queue-limit} is
   *     above {@code queue-limit}, or {@code kv-cache-bytes} of a role on the CPU is more than this
   *     machine's physical memory
   */
  public static RoleSpec fromConfig(Config c) {
    Precision precision;
    try {
      precision = Precision.parse(c.hasPath("precision") ? c.getString("precision") : "float32");
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("precision: " + e.getMessage(), e);
    }
    List<String> devices = c.getStringList("devices");
    // Checked before the worker's settings read it as a long: a size beyond one (8E) is named by this range too.
    if (devices.contains("cpu")) requireKvCacheFitsMemory(c);
    WorkerSettings settings = WorkerSettings.fromConfig(c);
    // The large role's queue only is fair among tenants (FairQueue); the small one's is first come, first served.
    int perTenant = c.hasPath("per-tenant-queue-limit") ? c.getInt("per-tenant-queue-limit") : settings.queueLimit();
    return new RoleSpec(c.getString("model"), devices, settings, perTenant, precision, threads(c));
  }

  /**
   * A CPU worker's KV cache lives in this machine's memory, so a budget above all of it (a unit
   * mistyped, TiB for GiB) can never be honoured. The bound is the physical memory the OS reports
   * to the JVM (a container's limit where there is one). A GPU's cache lives in the GPU's memory,
   * which is not known before its model loads.
   */
  private static void requireKvCacheFitsMemory(Config role) {
    long physical = physicalMemory();
    if (physical <= 0) return;
    BigInteger bytes = role.getMemorySize("kv-cache-bytes").toBytesBigInteger();
    if (bytes.signum() >= 0 && bytes.compareTo(BigInteger.valueOf(physical)) <= 0) return;
    String written = String.valueOf(role.getValue("kv-cache-bytes").unwrapped()).strip();
    throw new IllegalArgumentException(ConfigSection.mistake("kv-cache-bytes", "from 0 to " + physical + " (this machine's physical"
        + " memory, " + gib(physical) + ", which holds the KV cache of a role on the CPU)", written.equals(bytes.toString()) ? written
        : written + " (" + bytes + " bytes)"));
  }

  /**
   * The KV caches of every model worker the roles run on this node's CPU live in its one memory,
   * so budgets that fit it each but not together (both roles on the CPU, or a role's replicas,
   * {@code devices = [cpu, cpu]}) can never all be honoured. Workers counted as {@link
   * TandemNode#cpuWorkers} counts them: scripted, simulated and remote models hold no cache here.
   *
   * @throws InvalidConfigException naming each role's {@code tandem.ROLE.kv-cache-bytes}, the sum and
   *     the physical memory, in one line
   */
  static void requireKvCachesFitMemory(Map<Role, RoleSpec> roles) {
    long physical = physicalMemory();
    if (physical <= 0) return;
    BigInteger total = BigInteger.ZERO;
    List<String> budgets = new ArrayList<>();
    for (Map.Entry<Role, RoleSpec> e : roles.entrySet()) {
      int workers = TandemNode.cpuWorkers(Map.of(e.getKey(), e.getValue()));
      if (workers == 0) continue;
      long bytes = e.getValue().settings().kvCacheBytes();
      total = total.add(BigInteger.valueOf(bytes).multiply(BigInteger.valueOf(workers)));
      budgets.add("tandem." + e.getKey() + ".kv-cache-bytes (" + (workers == 1 ? "" : workers + " CPU workers of ") + gib(bytes) + ")");
    }
    if (total.compareTo(BigInteger.valueOf(physical)) <= 0) return;
    String keys = String.join(" and ", budgets);
    throw InvalidConfigException.setting(keys.substring(0, keys.indexOf(' ')), keys + (budgets.size() == 1 ? " adds" : " add")
        + " up to " + gib(total.doubleValue()) + ", more than this machine's physical memory, " + gib(physical) + ", which holds"
        + " the KV cache of every model worker on its CPU; lower " + (budgets.size() == 1 ? "it" : "them") + " so that the sum fits",
        null);
  }

  /** The physical memory the OS reports to the JVM (a container's limit where there is one); 0 when it cannot tell. */
  private static long physicalMemory() {
    if (!(ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)) return 0;
    return os.getTotalMemorySize();
  }

  private static String gib(double bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (1L << 30));
  }

  /**
   * Reads {@code tandem.ROLE} of a node's config, naming the role's key in any error.
   *
   * @throws IllegalArgumentException {@code tandem.ROLE: ...}, for a value of the wrong type or out
   *     of range
   */
  public static RoleSpec fromConfig(Config root, Role role) {
    String section = "tandem." + role;
    return ConfigSection.read(root, section, c -> {
      try {
        return fromConfig(c);
      } catch (IllegalArgumentException e) {
        // The section's own checks name its keys relative to it (threads, max-batch), each message
        // beginning with its key; what ConfigSection's reading refuses names its key in full
        // (tandem.small.max-batch must be a whole number, got 0.5). Either way the message names it in full.
        if (e instanceof InvalidConfigException i && i.key() != null && i.key().startsWith(section + ".")) throw e;
        throw new IllegalArgumentException(section + "." + e.getMessage(), e);
      }
    });
  }

  /** The most intra-op threads a worker (or {@code bench model}) may be given. */
  static final int MAX_THREADS = 1024;

  /** {@code threads}: a whole number from 0 (the cores shared among the CPU workers) to {@value #MAX_THREADS}. */
  private static int threads(Config c) {
    if (!c.hasPath("threads")) return 0;
    Object value = c.getValue("threads").unwrapped();
    String text = String.valueOf(value).trim();
    if (!text.matches("\\d{1,4}") || Integer.parseInt(text) > MAX_THREADS)
      throw new IllegalArgumentException("threads must be a whole number from 0 (the cores shared among the node's CPU workers) to 1024, got '" + text + "'");
    return Integer.parseInt(text);
  }

  /** This role with another model spec. */
  public RoleSpec withModel(String newModel) {
    return new RoleSpec(newModel, devices, settings, perTenantQueueLimit, precision, threads);
  }

  /** This role with other worker limits. */
  public RoleSpec withSettings(WorkerSettings s) {
    return new RoleSpec(model, devices, s, perTenantQueueLimit, precision, threads);
  }
}
