package dev.mergeval.checkpoint;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The raw local filesystem with permissions set through {@code java.nio}. Hadoop's own, without
 * its native library (which Mergeval does not ship), starts a {@code chmod} process for every
 * permission it sets, and Hadoop 3.3 sets one on every file it creates and directory it makes:
 * milliseconds of fork and exec for each output shard, part file and marker.
 */
final class NioLocalFileSystem extends RawLocalFileSystem {

    /** A new instance for {@code file:} paths, with {@code conf}'s settings (umask, buffer size). */
    static NioLocalFileSystem create(Configuration conf) throws IOException {
        NioLocalFileSystem fs = new NioLocalFileSystem();
        fs.initialize(URI.create("file:///"), conf);
        return fs;
    }

    /**
     * Hadoop's create without {@code overwrite} checks that the file is absent, then creates it:
     * two processes can both pass the check. Here the file is created exclusively first (as
     * HDFS's NameNode does), so exactly one of them gets it ({@link StagingClaim} counts on that).
     */
    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
            short replication, long blockSize, Progressable progress) throws IOException {
        createExclusively(f, overwrite);
        return super.create(f, permission, true, bufferSize, replication, blockSize, progress);
    }

    @Override
    public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
            Progressable progress) throws IOException {
        createExclusively(f, overwrite);
        return super.create(f, true, bufferSize, replication, blockSize, progress);
    }

    private void createExclusively(Path f, boolean overwrite) throws IOException {
        if (overwrite) {
            return;
        }
        Path parent = f.getParent();
        if (parent != null && !mkdirs(parent)) {
            throw new IOException("cannot create the directory " + parent);
        }
        try {
            Files.createFile(pathToFile(f).toPath());
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new FileAlreadyExistsException("File already exists: " + f);
        }
    }

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
        // rwx bits only; a sticky bit (which java.nio cannot set) goes Hadoop's way.
        if (permission.getStickyBit()) {
            super.setPermission(p, permission);
            return;
        }
        try {
            Files.setPosixFilePermissions(pathToFile(p).toPath(), PosixFilePermissions.fromString(permission.toString()));
        } catch (UnsupportedOperationException e) {
            super.setPermission(p, permission);
        }
    }
}
