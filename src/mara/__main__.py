from mara.cli import main

main()
