from personafuse.report.main import main

main()
