"""The only place netemu touches the kernel: namespaces, netlink, processes, files."""
