from characters.cli import main

main()
