package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/** Real HDFS in the test JVM: a NameNode and DataNodes over loopback RPC (MiniDFSCluster). */
public final class MiniHdfs implements AutoCloseable {

    /** Small blocks, so that test files span several blocks and DataNodes. */
    public static final long BLOCK_SIZE = 1024 * 1024;

    private final MiniDFSCluster cluster;

    private MiniHdfs(MiniDFSCluster cluster) {
        this.cluster = cluster;
    }

    public static MiniHdfs start(int dataNodes) {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, ProjectLayout.scratch("hdfs-").toString());
        conf.setLong("dfs.blocksize", BLOCK_SIZE);
        conf.setInt("dfs.replication", Math.min(2, dataNodes));
        try {
            return new MiniHdfs(new MiniDFSCluster.Builder(conf).numDataNodes(dataNodes).build());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code hdfs://127.0.0.1:PORT}. */
    public String uri() {
        return "hdfs://127.0.0.1:" + cluster.getNameNodePort();
    }

    /**
     * Client settings, as Spark's {@code spark.hadoop.*} keys would carry them to executors. The
     * writing client chooses the block size, so the small blocks are set here too.
     */
    public Map<String, String> clientSettings() {
        return Map.of("fs.defaultFS", uri(), "dfs.blocksize", Long.toString(BLOCK_SIZE));
    }

    public Configuration clientConf() {
        Configuration conf = new Configuration();
        clientSettings().forEach(conf::set);
        return conf;
    }

    @Override
    public void close() {
        cluster.shutdown(true);
    }
}
